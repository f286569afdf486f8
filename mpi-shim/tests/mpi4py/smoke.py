"""mpi4py, an unmodified third-party MPI library built with MPICH's mpicc, on the
shim: pickled objects (Mprobe/Mrecv underneath), buffers, communicators, a
non-blocking collective and attribute caching. Rank 0 prints what every
implementation must agree on; scripts/mpi4py-test.sh compares MPICH and the shim."""
import array

from mpi4py import MPI

comm = MPI.COMM_WORLD
r, n = comm.Get_rank(), comm.Get_size()
out = []
out.append(("allreduce", comm.allreduce(r + 1, op=MPI.SUM)))
out.append(("bcast", comm.bcast({"from": 0, "list": [1, 2, 3]} if r == 0 else None, root=0)))
out.append(("gather", comm.gather(r * r, root=0)))
out.append(("allgather", comm.allgather(("rank", r))))
out.append(("scatter", comm.scatter([i * 10 for i in range(n)] if r == 0 else None, root=0)))
out.append(("alltoall", comm.alltoall([r * 100 + i for i in range(n)])))
out.append(("scan", comm.scan(r)))
if n > 1:
    if r == 0:
        comm.send({"big": list(range(10000))}, dest=1, tag=5)
        got = comm.recv(source=n - 1, tag=6)
    else:
        got = comm.recv(source=r - 1, tag=5 if r == 1 else 6)
        comm.send(got, dest=(r + 1) % n, tag=6)
    out.append(("ring", sum(got["big"])))
a = array.array("d", [float(r)] * 4)
b = array.array("d", [0.0] * 4)
comm.Allreduce(a, b, op=MPI.MAX)
out.append(("Allreduce", list(b)))
sub = comm.Split(r % 2, -r)
out.append(("split", sub.allgather(r)))
req = comm.Ibarrier()
req.Wait()
dup = comm.Dup()
out.append(("dup", dup.allreduce(1)))
dup.Free()
sub.Free()
res = comm.gather(out, root=0)
if r == 0:
    for i, o in enumerate(res):
        for name, v in o:
            print(f"rank {i} {name} {v}")
    print("mpi4py smoke: done")
