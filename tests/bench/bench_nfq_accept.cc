// bench_nfq_accept: an NFQUEUE pass-through that accepts every packet
// unchanged, built on svxlat's own nfq::Queue (userspace/nfq), so that it
// costs exactly the queue round trip svxlatd pays before any translation.
// tests/bench/run-bench runs it under a DNAT rule set as the "tuned NFQUEUE
// pass-through" baseline (docs/performance.md).
//
//   bench_nfq_accept [--queue N] [--queues K] [--no-gso] [--no-batch]
//                    [--rcvbuf BYTES] [--maxlen N]
//
// One thread per queue (N .. N+K-1), each an epoll loop: recvmmsg a burst,
// accept every packet, flush the verdicts. Prints "ready" on stdout once the
// queues are bound, and its counters when SIGINT/SIGTERM stops it.
#include "nfq/queue.h"

#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

void usage() {
    std::fprintf(stderr, "usage: bench_nfq_accept [--queue N] [--queues K] [--no-gso] "
                         "[--no-batch] [--rcvbuf BYTES] [--maxlen N]\n");
    std::exit(2);
}

void run(svxlat::nfq::Queue& q) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, q.fd(), &ev);
    while (!g_stop.load(std::memory_order_relaxed)) {
        epoll_event out{};
        if (epoll_wait(ep, &out, 1, 100) <= 0)
            continue;
        // Drain the socket, flushing the verdicts of each burst.
        for (int round = 0; round < 64; ++round) {
            std::size_t n = q.receive([&](svxlat::nfq::QueuedPacket& p) { q.accept(p.id); });
            q.flush();
            if (n == 0)
                break;
        }
    }
    q.flush();
    close(ep);
}

} // namespace

int main(int argc, char** argv) {
    svxlat::nfq::QueueOptions base;
    unsigned queues = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc)
                usage();
            return argv[++i];
        };
        if (a == "--queue")
            base.queue_num = static_cast<std::uint16_t>(std::atoi(next()));
        else if (a == "--queues")
            queues = static_cast<unsigned>(std::atoi(next()));
        else if (a == "--no-gso")
            base.gso = false;
        else if (a == "--no-batch")
            base.batch_verdicts = false;
        else if (a == "--rcvbuf")
            base.rcvbuf_bytes = std::atoi(next());
        else if (a == "--maxlen")
            base.max_len = static_cast<std::uint32_t>(std::atoi(next()));
        else
            usage();
    }
    if (queues < 1 || queues > 16)
        usage();

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    std::vector<std::unique_ptr<svxlat::nfq::Queue>> qs;
    try {
        for (unsigned k = 0; k < queues; ++k) {
            auto o = base;
            o.queue_num = static_cast<std::uint16_t>(base.queue_num + k);
            qs.push_back(std::make_unique<svxlat::nfq::Queue>(o));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_nfq_accept: %s\n", e.what());
        return 1;
    }
    std::printf("ready: %u queue(s) from %u, gso %s, batched verdicts %s, rcvbuf %d, maxlen %u\n",
                queues, base.queue_num, base.gso ? "on" : "off",
                base.batch_verdicts ? "on" : "off", qs[0]->rcvbuf_bytes(), base.max_len);
    std::fflush(stdout);

    std::vector<std::thread> threads;
    for (auto& q : qs)
        threads.emplace_back([&q] { run(*q); });
    for (auto& t : threads)
        t.join();

    for (auto& q : qs) {
        auto c = q->counters();
        auto k = q->kernel_stats();
        std::printf("queue %u:", q->queue_num());
        for (std::size_t i = 0; i < c.size(); ++i)
            if (c[i])
                std::printf(" %s=%llu", std::string(svxlat::nfq::kQueueCounterInfo[i].name).c_str(),
                            static_cast<unsigned long long>(c[i]));
        if (k)
            std::printf(" kernel_queue_dropped=%u kernel_user_dropped=%u", k->queue_dropped,
                        k->user_dropped);
        std::printf("\n");
    }
    return 0;
}
