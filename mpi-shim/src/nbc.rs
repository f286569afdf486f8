//! Non-blocking collectives. Each communicator that starts one gets a progress
//! thread, which runs the communicator's non-blocking collectives one after the
//! other, in the order the program started them (MPI requires every rank to start
//! them in the same order), with the same code as the blocking ones, on the
//! communicator's twin: a second context reserved next to the communicator's own,
//! so they never match its blocking collectives or point-to-point traffic. A call
//! returns at once; MPI_Wait and MPI_Test look at the request's completion.

use crate::comm::CommObj;
use crate::errors::{Fail, R};
use crate::request::Completion;
use fmi::comm::Comm;
use parking_lot::{Condvar, Mutex};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Completion of one non-blocking collective.
#[derive(Default)]
pub struct Done {
    state: Mutex<Option<Completion>>,
    cv: Condvar,
}

impl Done {
    fn set(&self, r: R) {
        let c = match r {
            Ok(()) => Completion::empty(),
            Err(f) => Completion {
                error: f.class,
                msg: f.msg,
                ..Completion::empty()
            },
        };
        *self.state.lock() = Some(c);
        self.cv.notify_all();
    }

    pub fn wait(&self) -> Completion {
        let mut s = self.state.lock();
        while s.is_none() {
            self.cv.wait(&mut s);
        }
        s.clone().unwrap_or_default()
    }

    pub fn test(&self) -> Option<Completion> {
        self.state.lock().clone()
    }
}

type Job = Box<dyn FnOnce(&Comm) -> R + Send>;

/// The progress thread of one communicator.
pub struct Worker {
    tx: Sender<(Job, Arc<Done>)>,
    thread: JoinHandle<()>,
}

fn spawn(twin: Comm) -> std::io::Result<Worker> {
    let (tx, rx) = channel::<(Job, Arc<Done>)>();
    let thread = std::thread::Builder::new()
        .name("fmi-mpi-nbc".into())
        .spawn(move || {
            for (job, done) in rx {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&twin)))
                    .unwrap_or_else(|_| {
                        Err(Fail::new(
                            crate::abi::MPI_ERR_INTERN,
                            "non-blocking collective panicked",
                        ))
                    });
                done.set(r);
            }
        })?;
    Ok(Worker { tx, thread })
}

/// Queues `job` on `c`'s progress thread; returns its completion.
pub fn start(c: &CommObj, job: Job) -> R<Arc<Done>> {
    let mut w = c.nbc.lock();
    if w.is_none() {
        let twin = c.comm.twin().map_err(Fail::from)?;
        *w = Some(spawn(twin).map_err(|e| {
            Fail::new(
                crate::abi::MPI_ERR_OTHER,
                format!("cannot start a progress thread: {e}"),
            )
        })?);
    }
    let done = Arc::new(Done::default());
    let sent = w.as_ref().map(|w| w.tx.send((job, done.clone())));
    match sent {
        Some(Ok(())) => Ok(done),
        _ => Err(Fail::new(
            crate::abi::MPI_ERR_INTERN,
            "progress thread is gone",
        )),
    }
}

/// Ends `c`'s progress thread after the collectives it has queued (at free).
pub fn stop(c: &CommObj) {
    if let Some(w) = c.nbc.lock().take() {
        drop(w.tx);
        let _ = w.thread.join();
    }
}

/// A raw pointer that a queued collective carries to the progress thread; MPI makes
/// the program keep the buffer valid and untouched until the request completes.
#[derive(Clone, Copy)]
pub struct P(pub usize);

impl P {
    pub fn of<T>(p: *const T) -> P {
        P(p as usize)
    }
    pub fn c<T>(self) -> *const T {
        self.0 as *const T
    }
    pub fn m<T>(self) -> *mut T {
        self.0 as *mut T
    }
}
