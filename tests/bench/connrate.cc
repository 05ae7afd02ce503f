// connrate: a request/response connection-rate load and its server.
//
//   connrate server ADDR PORT [THREADS]
//       Listens on ADDR:PORT. Each of THREADS (default 4) blocking threads
//       accepts a connection, reads a 100-byte request, writes a 100-byte
//       reply, waits for the client's close and closes (so TIME-WAIT stays
//       on the client side). Prints "ready" once listening; runs until
//       SIGINT/SIGTERM.
//   connrate client ADDR PORT THREADS SECONDS
//       THREADS blocking threads, each in a loop for SECONDS: connect, send
//       100 bytes, read the 100-byte reply, close. Latency is measured from
//       before connect() until the reply is complete. Prints one line:
//         conns=N seconds=S rate=R p50_ms=A p99_ms=B errors=E
//       (a failed connection counts as an error and is not in the latency).
//
// tests/bench/run-bench runs it through each path (docs/performance.md).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kMessageBytes = 100;

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

sockaddr_in parse_addr(const char* addr, const char* port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port)));
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        std::fprintf(stderr, "connrate: bad address %s\n", addr);
        std::exit(2);
    }
    return sa;
}

void set_timeouts(int fd, int seconds) {
    timeval tv{seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Reads exactly n bytes; false on EOF, error or timeout.
bool read_full(int fd, char* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::recv(fd, buf + got, n - got, 0);
        if (r > 0)
            got += static_cast<std::size_t>(r);
        else if (r < 0 && errno == EINTR)
            continue;
        else
            return false;
    }
    return true;
}

bool write_full(int fd, const char* buf, std::size_t n) {
    std::size_t put = 0;
    while (put < n) {
        ssize_t r = ::send(fd, buf + put, n - put, MSG_NOSIGNAL);
        if (r > 0)
            put += static_cast<std::size_t>(r);
        else if (r < 0 && errno == EINTR)
            continue;
        else
            return false;
    }
    return true;
}

// ------------------------------------------------------------------ server

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int server(int argc, char** argv) {
    if (argc < 4)
        return 2;
    sockaddr_in sa = parse_addr(argv[2], argv[3]);
    int threads = argc > 4 ? std::atoi(argv[4]) : 4;
    struct sigaction act{};
    act.sa_handler = on_signal; // no SA_RESTART: accept() returns EINTR
    sigaction(SIGINT, &act, nullptr);
    sigaction(SIGTERM, &act, nullptr);
    signal(SIGPIPE, SIG_IGN);

    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0 || ::listen(lfd, 4096) < 0) {
        std::perror("connrate server: bind/listen");
        return 1;
    }
    // accept() wakes up every 200 ms to notice a stop request.
    timeval tv{0, 200'000};
    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::printf("ready\n");
    std::fflush(stdout);

    std::atomic<std::uint64_t> served{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            char buf[kMessageBytes];
            char reply[kMessageBytes];
            std::memset(reply, 'r', sizeof(reply));
            while (!g_stop.load(std::memory_order_relaxed)) {
                int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                set_timeouts(fd, 5);
                int nodelay = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
                if (read_full(fd, buf, sizeof(buf)) && write_full(fd, reply, sizeof(reply))) {
                    // Wait for the client's FIN, so the client closes first.
                    while (::recv(fd, buf, sizeof(buf), 0) > 0) {
                    }
                    served.fetch_add(1, std::memory_order_relaxed);
                }
                ::close(fd);
            }
        });
    for (auto& t : pool)
        t.join();
    ::close(lfd);
    std::printf("served=%llu\n", static_cast<unsigned long long>(served.load()));
    return 0;
}

// ------------------------------------------------------------------ client

int client(int argc, char** argv) {
    if (argc < 6)
        return 2;
    sockaddr_in sa = parse_addr(argv[2], argv[3]);
    int threads = std::atoi(argv[4]);
    double seconds = std::atof(argv[5]);
    if (threads < 1 || seconds <= 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);

    struct Result {
        std::vector<std::uint32_t> latency_us;
        std::uint64_t errors = 0;
    };
    std::vector<Result> results(static_cast<std::size_t>(threads));
    const std::uint64_t start = now_ns();
    const std::uint64_t deadline = start + static_cast<std::uint64_t>(seconds * 1e9);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            Result& res = results[static_cast<std::size_t>(t)];
            res.latency_us.reserve(1 << 18);
            char req[kMessageBytes];
            char buf[kMessageBytes];
            std::memset(req, 'q', sizeof(req));
            for (std::uint64_t t0 = now_ns(); t0 < deadline; t0 = now_ns()) {
                int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                    ++res.errors;
                    continue;
                }
                set_timeouts(fd, 3);
                int nodelay = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
                bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0 &&
                          write_full(fd, req, sizeof(req)) && read_full(fd, buf, sizeof(buf));
                std::uint64_t t1 = now_ns();
                ::close(fd);
                if (ok)
                    res.latency_us.push_back(static_cast<std::uint32_t>((t1 - t0) / 1000));
                else {
                    ++res.errors;
                    // A refused or reset connection must not spin the CPU.
                    usleep(1000);
                }
            }
        });
    for (auto& t : pool)
        t.join();
    const double elapsed = static_cast<double>(now_ns() - start) / 1e9;

    std::vector<std::uint32_t> all;
    std::uint64_t errors = 0;
    for (auto& r : results) {
        all.insert(all.end(), r.latency_us.begin(), r.latency_us.end());
        errors += r.errors;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) -> double {
        if (all.empty())
            return 0;
        std::size_t i = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1));
        return all[i] / 1000.0;
    };
    std::printf("conns=%zu seconds=%.2f rate=%.0f p50_ms=%.3f p99_ms=%.3f errors=%llu\n",
                all.size(), elapsed, static_cast<double>(all.size()) / elapsed, pct(0.50),
                pct(0.99), static_cast<unsigned long long>(errors));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    int rc = 2;
    if (argc >= 2 && std::strcmp(argv[1], "server") == 0)
        rc = server(argc, argv);
    else if (argc >= 2 && std::strcmp(argv[1], "client") == 0)
        rc = client(argc, argv);
    if (rc == 2)
        std::fprintf(stderr, "usage: connrate server ADDR PORT [THREADS]\n"
                             "       connrate client ADDR PORT THREADS SECONDS\n");
    return rc;
}
