using Steward.LocalModels.Engine;
using Xunit;

namespace Steward.LocalModels.Tests.Engine;

public sealed class ComputePoolTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Run_ManySmallJobs_EveryPieceRunsExactlyOnce(int threads)
    {
        using var pool = new ComputePool(threads);
        var job = new CountingJob(pieces: 37);

        for (var i = 0; i < 2000; i++)
        {
            job.Reset();
            pool.Run(job);
            Assert.True(job.IsFinished);
            Assert.All(job.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void Run_AfterIdleSleep_WakesWorkersAndCompletes()
    {
        using var pool = new ComputePool(2);
        var job = new CountingJob(pieces: 64);
        pool.Run(job);

        Thread.Sleep(20); // workers go to sleep after 2 ms without work
        job.Reset();
        pool.Run(job);

        Assert.All(job.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void Run_JobThrows_SurfacesOnCaller()
    {
        using var pool = new ComputePool(2);

        var ex = Assert.Throws<InvalidOperationException>(() => pool.Run(new ThrowingJob()));

        Assert.IsType<FormatException>(ex.InnerException);
    }

    private sealed class CountingJob(int pieces) : IParallelJob
    {
        private int _next;
        private int _done;

        public int[] Hits { get; } = new int[pieces];

        public bool IsFinished => Volatile.Read(ref _done) >= Hits.Length;

        public void Reset()
        {
            Array.Clear(Hits);
            _next = 0;
            _done = 0;
        }

        public void Execute(int threadIndex, int threadCount)
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < Hits.Length)
            {
                Interlocked.Increment(ref Hits[i]);
                Interlocked.Increment(ref _done);
            }
        }
    }

    private sealed class ThrowingJob : IParallelJob
    {
        public bool IsFinished => false;

        public void Execute(int threadIndex, int threadCount) => throw new FormatException("boom");
    }
}
