// SPDX-License-Identifier: GPL-2.0 OR MIT
// Root tests of the relay, each in a network namespace of its own that the
// fixture creates and always deletes. The test thread (and so the relay's
// threads, the servers' threads and every child process) lives in it:
//
//   lo: 127.0.0.1, 10.77.0.1/32, 10.77.0.2/32, 10.77.0.3/32 (row addresses)
//   (some tests) veth va 10.78.0.1/24 <-> vb (no address), default route via va
//
// Rows point at ordinary TCP servers through the target override, so no
// Serval stack is needed. Every wait is bounded.
#include "relay/relay.h"
#include "sha256.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// Sanitizer builds run the same cases on less data (the tests' own hashing
// dominates there) and skip the RSS bound (ASan's allocator keeps freed
// memory in quarantine).
#if defined(__SANITIZE_ADDRESS__)
#define SVX_RELAY_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SVX_RELAY_TEST_SANITIZED 1
#endif
#endif
#ifdef SVX_RELAY_TEST_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

namespace {

using namespace svxlat::relay;
using namespace std::chrono_literals;
using svxlat::relay::test::Sha256;
using Clock = std::chrono::steady_clock;

constexpr Ipv4Address kRowA{10, 77, 0, 1};
constexpr Ipv4Address kRowB{10, 77, 0, 2};
constexpr Ipv4Address kRowC{10, 77, 0, 3};
constexpr Ipv4Address kLoopback{127, 0, 0, 1};

class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    void reset() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

sockaddr_in sockaddr_of(const Endpoint& e) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(e.port);
    std::memcpy(&sa.sin_addr, e.address.data(), 4);
    return sa;
}

Endpoint endpoint_of(const sockaddr_in& sa) {
    Endpoint e;
    std::memcpy(e.address.data(), &sa.sin_addr, 4);
    e.port = ntohs(sa.sin_port);
    return e;
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Blocking connect with send/receive timeouts; -errno on failure.
int connect_to(const Endpoint& e, std::chrono::milliseconds io_timeout = 30s) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    set_timeouts(fd, io_timeout);
    sockaddr_in sa = sockaddr_of(e);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
        int err = errno;
        ::close(fd);
        return -err;
    }
    return fd;
}

bool send_all(int fd, std::span<const std::uint8_t> data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool send_text(int fd, std::string_view s) {
    return send_all(fd, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

// Reads exactly n bytes (false on EOF/error/timeout first).
bool recv_exact(int fd, std::uint8_t* out, std::size_t n) {
    while (n > 0) {
        ssize_t r = ::recv(fd, out, n, 0);
        if (r <= 0)
            return false;
        out += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// What a recv after the other side went away returns: 0 (FIN), -ECONNRESET...
int recv_outcome(int fd) {
    std::uint8_t b[256];
    for (;;) {
        ssize_t r = ::recv(fd, b, sizeof(b), 0);
        if (r > 0)
            continue;
        return r == 0 ? 0 : -errno;
    }
}

// Deterministic data: xorshift64 from a seed.
class Generator {
public:
    explicit Generator(std::uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}
    void fill(std::span<std::uint8_t> out) {
        for (std::size_t i = 0; i < out.size(); i += 8) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            std::size_t n = std::min<std::size_t>(8, out.size() - i);
            std::memcpy(out.data() + i, &state_, n);
        }
    }

private:
    std::uint64_t state_;
};

// One side of a transfer: sends `send_bytes` of generated data, then
// shutdown(SHUT_WR); reads until EOF. Both run at once unless
// send_after_eof. Hashes of both ways.
struct Plan {
    std::uint64_t send_bytes = 0;
    std::uint64_t seed = 1;
    bool send_after_eof = false;
    std::size_t write_chunk = 64 << 10;
    std::size_t read_chunk = 64 << 10;
    std::chrono::microseconds read_pause{0};  // after each chunk read: a slow reader
    std::chrono::microseconds write_pause{0}; // after each chunk sent: a slow writer
    bool close_after = true;
    std::atomic<bool>* read_gate = nullptr; // reading starts when it is true (or after 20 s)
};

struct PeerResult {
    std::string sent_hash, received_hash;
    std::uint64_t sent = 0, received = 0;
    int read_end = 0; // 0: EOF; -errno
    bool send_ok = true;
};

PeerResult run_peer(int fd, const Plan& plan) {
    PeerResult r;
    auto sender = [&] {
        Sha256 h;
        Generator g(plan.seed);
        std::vector<std::uint8_t> chunk(plan.write_chunk);
        std::uint64_t left = plan.send_bytes;
        while (left > 0) {
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
            g.fill({chunk.data(), n});
            h.update({chunk.data(), n});
            if (!send_all(fd, {chunk.data(), n})) {
                r.send_ok = false;
                break;
            }
            r.sent += n;
            left -= n;
            if (plan.write_pause.count() > 0)
                std::this_thread::sleep_for(plan.write_pause);
        }
        ::shutdown(fd, SHUT_WR);
        r.sent_hash = h.hex_digest();
    };
    auto receiver = [&] {
        if (plan.read_gate) {
            auto end = Clock::now() + 20s;
            while (!plan.read_gate->load() && Clock::now() < end)
                std::this_thread::sleep_for(1ms);
        }
        Sha256 h;
        std::vector<std::uint8_t> buf(plan.read_chunk);
        for (;;) {
            ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) {
                r.read_end = n == 0 ? 0 : -errno;
                break;
            }
            h.update({buf.data(), static_cast<std::size_t>(n)});
            r.received += static_cast<std::uint64_t>(n);
            if (plan.read_pause.count() > 0)
                std::this_thread::sleep_for(plan.read_pause);
        }
        r.received_hash = h.hex_digest();
    };
    if (plan.send_after_eof) {
        receiver();
        sender();
    } else {
        std::thread t(sender);
        receiver();
        t.join();
    }
    if (plan.close_after)
        ::close(fd);
    return r;
}

std::string expected_hash(std::uint64_t bytes, std::uint64_t seed) {
    Sha256 h;
    Generator g(seed);
    std::vector<std::uint8_t> chunk(64 << 10);
    while (bytes > 0) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, chunk.size()));
        g.fill({chunk.data(), n});
        h.update({chunk.data(), n});
        bytes -= n;
    }
    return h.hex_digest();
}

// A TCP server on 127.0.0.1:port running `handler` on each connection in a
// thread of its own. stop() (or the destructor) closes the listener and joins
// every handler (handlers use socket timeouts, so they end).
class Server {
public:
    using Handler = std::function<void(int fd)>;
    Server(std::uint16_t port, Handler handler) : handler_(std::move(handler)) {
        listen_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        int one = 1;
        ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in sa = sockaddr_of({kLoopback, port});
        if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0 ||
            ::listen(listen_.get(), 1024) < 0)
            throw std::runtime_error("server bind: " + std::string(std::strerror(errno)));
        endpoint_ = {kLoopback, port};
        acceptor_ = std::thread([this] {
            for (;;) {
                int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                    return; // shut down
                }
                set_timeouts(fd, 30s);
                accepted_.fetch_add(1);
                std::lock_guard lock(mutex_);
                handlers_.emplace_back([this, fd] { handler_(fd); });
            }
        });
    }
    ~Server() { stop(); }
    void stop() {
        if (!acceptor_.joinable())
            return;
        ::shutdown(listen_.get(), SHUT_RDWR);
        acceptor_.join();
        std::lock_guard lock(mutex_);
        for (auto& t : handlers_)
            t.join();
        handlers_.clear();
    }
    const Endpoint& endpoint() const { return endpoint_; }
    int accepted() const { return accepted_.load(); }

private:
    Handler handler_;
    Fd listen_;
    Endpoint endpoint_;
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<std::thread> handlers_;
    std::atomic<int> accepted_{0};
};

void echo_handler(int fd) {
    std::vector<std::uint8_t> buf(64 << 10);
    for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0 || !send_all(fd, {buf.data(), static_cast<std::size_t>(n)}))
            break;
    }
    ::close(fd);
}

// Sends `name\n` first, then echoes: tells a test which target answered.
Server::Handler banner_handler(std::string name) {
    return [name](int fd) {
        send_text(fd, name + "\n");
        echo_handler(fd);
    };
}

int run_command(const std::string& command) {
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string command_output(const std::string& command) {
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p)
        return out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;)
        out.append(buf, n);
    ::pclose(p);
    return out;
}

std::uint64_t vm_rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtoull(line.c_str() + 6, nullptr, 10);
    return 0;
}

template <typename Pred> bool wait_until(Pred pred, std::chrono::milliseconds limit = 10s) {
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        if (pred())
            return true;
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

RelayRow make_row(Ipv4Address address, std::uint16_t port, std::optional<Endpoint> target,
                  std::uint8_t service = 1, unsigned line = 1) {
    RelayRow r;
    r.listen = {address, port};
    r.service.b[0] = service;
    r.target = target;
    r.file = "relay.conf";
    r.line = line;
    return r;
}

// A fresh network namespace for each test; the test thread enters it and
// goes back to the original one (which is then deleted) in TearDown.
class RelayNetns : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root: creates network namespaces (run as root or under sudo)";
        remove_stale_namespaces();
        static int serial = 0;
        name_ = "svxrelay-" + std::to_string(::getpid()) + "-" + std::to_string(++serial);
        original_ = Fd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
        ASSERT_GE(original_.get(), 0);
        ASSERT_EQ(run_command("ip netns add " + name_), 0);
        created_ = true;
        Fd ns(::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_GE(ns.get(), 0);
        ASSERT_EQ(::setns(ns.get(), CLONE_NEWNET), 0) << std::strerror(errno);
        entered_ = true;
        ASSERT_EQ(run_command("ip link set lo up"), 0);
        for (const char* a : {"10.77.0.1", "10.77.0.2", "10.77.0.3"})
            ASSERT_EQ(run_command(std::string("ip addr add ") + a + "/32 dev lo"), 0);
        raise_nofile_limit();
        ::signal(SIGPIPE, SIG_IGN);
    }

    void TearDown() override {
        for (pid_t pid : children_) {
            ::kill(pid, SIGTERM);
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
        if (entered_)
            ::setns(original_.get(), CLONE_NEWNET);
        if (created_)
            run_command("ip netns del " + name_ + " 2>/dev/null");
    }

    // Namespaces of earlier runs that were killed before their TearDown
    // (a timeout): svxrelay-PID-N whose PID is gone.
    static void remove_stale_namespaces() {
        std::istringstream names(command_output("ls /run/netns 2>/dev/null"));
        std::string n;
        while (names >> n) {
            if (n.rfind("svxrelay-", 0) != 0)
                continue;
            pid_t pid = static_cast<pid_t>(std::strtol(n.c_str() + 9, nullptr, 10));
            if (pid > 0 && ::kill(pid, 0) < 0 && errno == ESRCH)
                run_command("ip netns del " + n + " 2>/dev/null");
        }
    }

    // veth va (10.78.0.1/24) <-> vb (no address); default route via va.
    void add_veth() {
        ASSERT_EQ(run_command("ip link add va type veth peer name vb"), 0);
        ASSERT_EQ(run_command("ip addr add 10.78.0.1/24 dev va"), 0);
        ASSERT_EQ(run_command("ip link set va up && ip link set vb up"), 0);
        ASSERT_EQ(run_command("ip route add default via 10.78.0.254 dev va"), 0);
    }

    pid_t spawn(std::vector<std::string> argv) {
        pid_t pid = ::fork();
        if (pid == 0) {
            std::vector<char*> args;
            for (auto& a : argv)
                args.push_back(a.data());
            args.push_back(nullptr);
            int null = ::open("/dev/null", O_WRONLY);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        children_.push_back(pid);
        return pid;
    }

    std::string name_;
    Fd original_;
    bool created_ = false, entered_ = false;
    std::vector<pid_t> children_;
};

RelayOptions test_options() {
    RelayOptions o;
    o.workers = 2;
    return o;
}

TEST_F(RelayNetns, CurlFetchesFromHttpServerThroughRelay) {
    char dir_template[] = "/tmp/svxrelay-http-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    std::string dir = dir_template;
    std::string body;
    {
        Generator g(42);
        std::vector<std::uint8_t> data(3 << 20);
        g.fill(data);
        body.assign(data.begin(), data.end());
        std::ofstream(dir + "/blob.bin", std::ios::binary) << body;
    }
    spawn({"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir,
           "18080"});
    ASSERT_TRUE(wait_until([] {
        int fd = connect_to({kLoopback, 18080});
        if (fd < 0)
            return false;
        ::close(fd);
        return true;
    })) << "python3 -m http.server did not start";

    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 80, Endpoint{kLoopback, 18080})};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    std::string out = dir + "/fetched.bin";
    ASSERT_EQ(run_command("curl -sS --max-time 20 -o " + out + " http://10.77.0.1/blob.bin"), 0);
    std::ifstream in(out, std::ios::binary);
    std::string fetched((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(fetched.size(), body.size());
    EXPECT_TRUE(fetched == body);
    EXPECT_GE(relay.counter(Counter::accepted), 1u);
    EXPECT_GT(relay.counter(Counter::bytes_to_client), body.size());
    run_command("rm -rf " + dir);
}

std::uint64_t transfer_megabytes() {
    const char* env = std::getenv("SVXLAT_RELAY_TEST_MB");
    return env ? std::strtoull(env, nullptr, 10) : kSanitized ? 16 : 200;
}

TEST_F(RelayNetns, BulkBothWaysKeepsEveryByte) {
    const std::uint64_t bytes = transfer_megabytes() << 20;
    PeerResult server_result;
    Server server(19001, [&](int fd) { server_result = run_peer(fd, {bytes, 2}); });
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000});
    ASSERT_GE(fd, 0);
    PeerResult client = run_peer(fd, {bytes, 1});
    server.stop();
    EXPECT_EQ(client.sent, bytes);
    EXPECT_EQ(client.received, bytes);
    EXPECT_EQ(server_result.received, bytes);
    EXPECT_EQ(client.sent_hash, server_result.received_hash);
    EXPECT_EQ(server_result.sent_hash, client.received_hash);
    EXPECT_EQ(client.read_end, 0);
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::bytes_to_service), bytes);
    EXPECT_EQ(relay.counter(Counter::bytes_to_client), bytes);
    EXPECT_EQ(relay.counter(Counter::closed), 1u);
    EXPECT_EQ(relay.counter(Counter::half_closes), 2u);
    EXPECT_EQ(relay.counter(Counter::splice_fallback), 0u);
}

TEST_F(RelayNetns, CopyModeWithoutSpliceKeepsEveryByte) {
    const std::uint64_t bytes = 32 << 20;
    PeerResult server_result;
    Server server(19002, [&](int fd) { server_result = run_peer(fd, {bytes, 4}); });
    RelayOptions o = test_options();
    o.use_splice = false;
    o.copy_buffer = 16 << 10;
    Relay relay(o);
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000});
    ASSERT_GE(fd, 0);
    PeerResult client = run_peer(fd, {bytes, 3});
    server.stop();
    EXPECT_EQ(client.sent_hash, server_result.received_hash);
    EXPECT_EQ(server_result.sent_hash, client.received_hash);
    EXPECT_EQ(client.received, bytes);
}

TEST_F(RelayNetns, FiveHundredConcurrentConnections) {
    constexpr int kCount = 500;
    Server server(19003, echo_handler);
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 7, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    std::vector<Fd> clients;
    for (int i = 0; i < kCount; ++i) {
        int fd = connect_to({kRowA, 7});
        ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(-fd);
        clients.emplace_back(fd);
    }
    ASSERT_TRUE(wait_until([&] { return server.accepted() == kCount; }))
        << server.accepted() << " reached the server";
    ASSERT_TRUE(wait_until([&] {
        auto conns = relay.connections();
        return conns.size() == kCount &&
               std::all_of(conns.begin(), conns.end(), [](const ConnectionInfo& c) {
                   return c.state == ConnectionState::relaying;
               });
    }));
    for (int i = 0; i < kCount; ++i)
        ASSERT_TRUE(send_text(clients[i].get(), "connection " + std::to_string(i) + "\n"));
    for (int i = 0; i < kCount; ++i) {
        std::string expect = "connection " + std::to_string(i) + "\n";
        std::string got(expect.size(), '\0');
        ASSERT_TRUE(
            recv_exact(clients[i].get(), reinterpret_cast<std::uint8_t*>(got.data()), got.size()));
        EXPECT_EQ(got, expect);
    }
    clients.clear();
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::accepted), static_cast<std::uint64_t>(kCount));
    EXPECT_EQ(relay.counter(Counter::connected), static_cast<std::uint64_t>(kCount));
    EXPECT_EQ(relay.counter(Counter::closed), static_cast<std::uint64_t>(kCount));
    server.stop();
}

// A slow reader on one side: the relay's buffering stays within the pipes
// (each direction <= its pipe's capacity, so <= 2 x pipe_size per
// connection), its RSS does not grow with the transfer, and nothing is lost.
void slow_reader_case(bool slow_client) {
    constexpr std::uint64_t kBytes = kSanitized ? 16 << 20 : 48 << 20;
    constexpr std::size_t kPipe = 256 << 10;
    // The slow side reads nothing until the relay's pipe holds data (every
    // buffer downstream of it is full), then reads at most ~40 MB/s.
    std::atomic<bool> gate{false};
    Plan slow{0, 7};
    slow.read_chunk = 64 << 10;
    slow.read_pause = 1500us;
    slow.read_gate = &gate;
    Plan fast{kBytes, 8};
    PeerResult server_result;
    Server server(19004, [&](int fd) { server_result = run_peer(fd, slow_client ? fast : slow); });
    RelayOptions o = test_options();
    o.pipe_size = kPipe;
    Relay relay(o);
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000});
    ASSERT_GE(fd, 0);
    std::uint64_t rss_before = vm_rss_kib();
    std::atomic<bool> done{false};
    std::size_t max_held = 0, max_capacity = 0, samples = 0, over = 0;
    std::uint64_t max_rss = rss_before;
    std::thread monitor([&] {
        while (!done.load()) {
            for (const auto& c : relay.connections()) {
                max_held = std::max({max_held, c.pipe_to_client, c.pipe_to_service});
                if (max_held > 0)
                    gate = true;
                max_capacity = std::max(max_capacity, c.pipe_capacity);
                if (c.pipe_to_client > c.pipe_capacity || c.pipe_to_service > c.pipe_capacity ||
                    c.pipe_to_client + c.pipe_to_service > 2 * kPipe)
                    ++over;
                ++samples;
            }
            max_rss = std::max(max_rss, vm_rss_kib());
            std::this_thread::sleep_for(2ms);
        }
    });
    PeerResult client = run_peer(fd, slow_client ? slow : fast);
    done = true;
    monitor.join();
    server.stop();
    const PeerResult& sender = slow_client ? server_result : client;
    const PeerResult& reader = slow_client ? client : server_result;
    EXPECT_EQ(reader.received, kBytes);
    EXPECT_EQ(sender.sent_hash, reader.received_hash);
    EXPECT_EQ(max_capacity, kPipe);
    EXPECT_GT(samples, 10u);
    EXPECT_EQ(over, 0u);
    EXPECT_GT(max_held, 0u) << "the pipe never held data: the reader was not slow enough";
    EXPECT_LE(max_held, kPipe);
    // The relay moves 48 MiB without it ever entering user space; 16 MiB of
    // slack covers the test's own threads and buffers.
    if (!kSanitized) {
        EXPECT_LT(max_rss - rss_before, 16u << 10)
            << "VmRSS grew by " << (max_rss - rss_before) << " KiB";
    }
    std::printf("slow %s: max pipe held %zu of %zu, VmRSS +%llu KiB, %zu samples\n",
                slow_client ? "client" : "server", max_held, max_capacity,
                static_cast<unsigned long long>(max_rss - rss_before), samples);
}

TEST_F(RelayNetns, SlowClientBoundsMemoryAndLosesNothing) {
    slow_reader_case(true);
}
TEST_F(RelayNetns, SlowServiceBoundsMemoryAndLosesNothing) {
    slow_reader_case(false);
}

TEST_F(RelayNetns, HalfCloseFromClientFirst) {
    constexpr std::uint64_t kBytes = 4 << 20;
    PeerResult server_result;
    Plan server_plan{kBytes, 11};
    server_plan.send_after_eof = true; // answers only after the client's EOF
    Server server(19005, [&](int fd) { server_result = run_peer(fd, server_plan); });
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000});
    ASSERT_GE(fd, 0);
    Plan client_plan{kBytes, 12};
    client_plan.close_after = false;
    PeerResult client = run_peer(fd, client_plan); // sends, shuts down, reads to EOF
    // While the client's direction is closed and the reply flows, the
    // connection was half-closed; it is gone once both directions ended.
    ::close(fd);
    server.stop();
    EXPECT_EQ(server_result.received, kBytes);
    EXPECT_EQ(client.sent_hash, server_result.received_hash);
    EXPECT_EQ(client.received, kBytes);
    EXPECT_EQ(server_result.sent_hash, client.received_hash);
    EXPECT_EQ(client.read_end, 0);
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::half_closes), 2u);
    EXPECT_EQ(relay.counter(Counter::closed), 1u);
    EXPECT_EQ(relay.counter(Counter::resets_propagated), 0u);
}

TEST_F(RelayNetns, HalfCloseFromServiceFirst) {
    constexpr std::uint64_t kBytes = 4 << 20;
    PeerResult server_result;
    std::atomic<bool> server_sent{false};
    Server server(19006, [&](int fd) {
        // Send everything and shut down first, then read what the client
        // sends once it saw our EOF.
        Sha256 h;
        Generator g(21);
        std::vector<std::uint8_t> chunk(64 << 10);
        for (std::uint64_t left = kBytes; left > 0;) {
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
            g.fill({chunk.data(), n});
            h.update({chunk.data(), n});
            send_all(fd, {chunk.data(), n});
            left -= n;
        }
        ::shutdown(fd, SHUT_WR);
        server_result.sent_hash = h.hex_digest();
        server_sent = true;
        Plan reader{0, 0};
        PeerResult rest = run_peer(fd, reader);
        server_result.received = rest.received;
        server_result.received_hash = rest.received_hash;
    });
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000});
    ASSERT_GE(fd, 0);
    Plan client_plan{kBytes, 22};
    client_plan.send_after_eof = true;
    client_plan.close_after = false;
    client_plan.write_pause = 2ms; // stays half-closed long enough to be seen
    // Read to the service's EOF first; the connection is half-closed now.
    std::thread client_thread;
    PeerResult client;
    client_thread = std::thread([&] { client = run_peer(fd, client_plan); });
    bool saw_half_closed = wait_until([&] {
        auto c = relay.connections();
        return !c.empty() && c[0].state == ConnectionState::half_closed;
    });
    client_thread.join();
    ::close(fd);
    server.stop();
    EXPECT_TRUE(saw_half_closed);
    EXPECT_EQ(client.received, kBytes);
    EXPECT_EQ(server_result.sent_hash, client.received_hash);
    EXPECT_EQ(server_result.received, kBytes);
    EXPECT_EQ(client.sent_hash, server_result.received_hash);
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::half_closes), 2u);
    EXPECT_EQ(relay.counter(Counter::closed), 1u);
}

void reset_close(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd);
}

TEST_F(RelayNetns, ResetFromClientResetsService) {
    std::atomic<int> server_end{1};
    std::atomic<bool> got_hello{false};
    Server server(19007, [&](int fd) {
        std::uint8_t b[5];
        if (recv_exact(fd, b, sizeof(b)))
            got_hello = true;
        server_end = recv_outcome(fd);
        ::close(fd);
    });
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000});
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_text(fd, "hello"));
    ASSERT_TRUE(wait_until([&] { return got_hello.load(); }));
    reset_close(fd);
    ASSERT_TRUE(wait_until([&] { return server_end.load() != 1; }));
    EXPECT_EQ(server_end.load(), -ECONNRESET);
    server.stop();
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::resets_propagated), 1u);
    EXPECT_EQ(relay.counter(Counter::closed), 0u);
}

TEST_F(RelayNetns, ResetFromServiceResetsClient) {
    Server server(19008, [&](int fd) {
        std::uint8_t b[5];
        recv_exact(fd, b, sizeof(b));
        reset_close(fd);
    });
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 9000, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 9000}, 5s);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_text(fd, "hello"));
    EXPECT_EQ(recv_outcome(fd), -ECONNRESET);
    ::close(fd);
    server.stop();
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::resets_propagated), 1u);
}

std::string read_line(int fd) {
    std::string s;
    char c;
    while (::recv(fd, &c, 1, 0) == 1 && c != '\n')
        s.push_back(c);
    return s;
}

TEST_F(RelayNetns, ApplyDuringTwentyTransfers) {
    constexpr int kTransfers = 20;
    constexpr std::uint64_t kBytes = kSanitized ? 1536 << 10 : 6 << 20;
    std::mutex results_mutex;
    std::vector<PeerResult> server_results;
    Server data(19010, [&](int fd) {
        PeerResult r = run_peer(fd, {kBytes, 99});
        std::lock_guard lock(results_mutex);
        server_results.push_back(r);
    });
    Server x(19011, banner_handler("x"));
    Server y(19012, banner_handler("y"));
    Server z(19013, banner_handler("z"));
    Relay relay(test_options());
    // A carries the transfers and is removed; C changes target x -> y; B is new.
    std::vector<RelayRow> before{make_row(kRowA, 9000, data.endpoint(), 1, 1),
                                 make_row(kRowC, 80, x.endpoint(), 3, 2)};
    ASSERT_EQ(relay.apply(before).listeners, 2u);

    std::vector<PeerResult> client_results(kTransfers);
    std::vector<std::thread> clients;
    std::atomic<int> connected{0};
    for (int i = 0; i < kTransfers; ++i)
        clients.emplace_back([&, i] {
            int fd = connect_to({kRowA, 9000});
            if (fd < 0)
                return;
            connected.fetch_add(1);
            Plan p{kBytes, static_cast<std::uint64_t>(100 + i)};
            p.write_chunk = kBytes / 96;
            p.write_pause = 8ms; // 96 chunks, ~0.8 s per transfer: the apply lands mid-way
            p.read_pause = 4ms;
            client_results[i] = run_peer(fd, p);
        });
    ASSERT_TRUE(wait_until(
        [&] { return relay.connection_count() == kTransfers && connected.load() == kTransfers; }));
    std::this_thread::sleep_for(200ms);

    std::vector<RelayRow> after{make_row(kRowB, 80, z.endpoint(), 2, 1),
                                make_row(kRowC, 80, y.endpoint(), 3, 2)};
    ApplyResult r = relay.apply(after);
    EXPECT_EQ(r.listeners, 2u);
    EXPECT_EQ(r.added, 1u);
    EXPECT_EQ(r.removed, 1u);
    EXPECT_EQ(r.changed, 1u);
    EXPECT_TRUE(r.diagnostics.empty());

    // Removed row refuses; the new row answers; the changed row reaches y.
    EXPECT_EQ(connect_to({kRowA, 9000}), -ECONNREFUSED);
    {
        int fd = connect_to({kRowB, 80}, 5s);
        ASSERT_GE(fd, 0);
        EXPECT_EQ(read_line(fd), "z");
        ::close(fd);
        fd = connect_to({kRowC, 80}, 5s);
        ASSERT_GE(fd, 0);
        EXPECT_EQ(read_line(fd), "y");
        ::close(fd);
    }
    // The transfers of the removed row are still there and finish intact.
    auto live = relay.connections();
    EXPECT_GE(std::count_if(live.begin(), live.end(),
                            [](const ConnectionInfo& c) { return c.row.address == kRowA; }),
              kTransfers - 2);
    for (auto& t : clients)
        t.join();
    data.stop();
    ASSERT_EQ(server_results.size(), static_cast<std::size_t>(kTransfers));
    std::string server_sent = expected_hash(kBytes, 99);
    std::vector<std::string> expected_received;
    for (int i = 0; i < kTransfers; ++i) {
        EXPECT_EQ(client_results[i].received, kBytes) << "transfer " << i;
        EXPECT_EQ(client_results[i].received_hash, server_sent) << "transfer " << i;
        EXPECT_EQ(client_results[i].sent, kBytes);
    }
    // Every client's bytes arrived, each exactly once (order of servers unknown).
    std::multiset<std::string> sent, received;
    for (const auto& c : client_results)
        sent.insert(c.sent_hash);
    for (const auto& s : server_results) {
        received.insert(s.received_hash);
        EXPECT_EQ(s.received, kBytes);
    }
    EXPECT_EQ(sent, received);
    EXPECT_EQ(relay.counter(Counter::reloads), 1u);
    EXPECT_EQ(relay.counter(Counter::resets_propagated), 0u);
    x.stop();
    y.stop();
    z.stop();
}

std::string ipv4_addresses() {
    return command_output("ip -4 -o addr show | awk '{print $2, $4}' | sort");
}

TEST_F(RelayNetns, DynamicAliasingAddsAndRemovesExactlyItsAliases) {
    add_veth();
    // 10.79.0.7 exists before the relay starts and must survive it.
    ASSERT_EQ(run_command("ip addr add 10.79.0.7/32 dev va"), 0);
    std::string before = ipv4_addresses();
    Server server(19014, echo_handler);
    {
        RelayOptions o = test_options();
        o.dynamic_aliasing = true;
        Relay relay(o);
        std::vector<RelayRow> rows{make_row({10, 79, 0, 5}, 80, server.endpoint(), 1, 1),
                                   make_row({10, 79, 0, 5}, 443, server.endpoint(), 1, 2),
                                   make_row({10, 79, 0, 6}, 80, server.endpoint(), 1, 3),
                                   make_row({10, 79, 0, 7}, 80, server.endpoint(), 1, 4),
                                   make_row(kRowA, 80, server.endpoint(), 1, 5)};
        ApplyResult r = relay.apply(rows);
        EXPECT_EQ(r.listeners, 5u);
        EXPECT_TRUE(r.diagnostics.empty()) << r.diagnostics[0].to_string();
        auto aliases = relay.aliases();
        ASSERT_EQ(aliases.size(), 2u);
        EXPECT_EQ(aliases[0].first, (Ipv4Address{10, 79, 0, 5}));
        EXPECT_EQ(aliases[1].first, (Ipv4Address{10, 79, 0, 6}));
        EXPECT_EQ(aliases[0].second, "va"); // the default route's interface
        std::string during = ipv4_addresses();
        EXPECT_NE(during.find("va 10.79.0.5/32"), std::string::npos) << during;
        EXPECT_NE(during.find("va 10.79.0.6/32"), std::string::npos) << during;
        EXPECT_EQ(relay.counter(Counter::aliases_added), 2u);
        for (const auto& l : relay.listeners())
            EXPECT_EQ(l.alias_added, l.row.listen.address[0] == 10 &&
                                         l.row.listen.address[1] == 79 &&
                                         l.row.listen.address[3] != 7)
                << format_endpoint(l.row.listen);
        int fd = connect_to({{10, 79, 0, 5}, 443}, 5s);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_text(fd, "ping"));
        std::uint8_t b[4];
        EXPECT_TRUE(recv_exact(fd, b, 4));
        ::close(fd);
        // A reload that drops the aliased rows keeps the aliases until stop.
        std::vector<RelayRow> fewer{rows[4]};
        relay.apply(fewer);
        EXPECT_EQ(relay.aliases().size(), 2u);
        relay.stop();
        EXPECT_EQ(relay.counter(Counter::aliases_removed), 2u);
        EXPECT_EQ(relay.counter(Counter::alias_errors), 0u);
        EXPECT_EQ(ipv4_addresses(), before);
    }
    EXPECT_EQ(ipv4_addresses(), before);
    EXPECT_NE(before.find("va 10.79.0.7/32"), std::string::npos);
    server.stop();
}

TEST_F(RelayNetns, AliasOnANamedInterface) {
    add_veth();
    std::string before = ipv4_addresses();
    RelayOptions o = test_options();
    o.dynamic_aliasing = true;
    o.alias_interface = "vb";
    {
        Relay relay(o);
        std::vector<RelayRow> rows{make_row({10, 79, 1, 1}, 80, Endpoint{kLoopback, 1})};
        EXPECT_EQ(relay.apply(rows).listeners, 1u);
        EXPECT_NE(ipv4_addresses().find("vb 10.79.1.1/32"), std::string::npos);
    } // the destructor stops the relay
    EXPECT_EQ(ipv4_addresses(), before);
    o.alias_interface = "nosuchif0";
    Relay relay(o);
    std::vector<RelayRow> rows{make_row({10, 79, 1, 2}, 80, Endpoint{kLoopback, 1}, 1, 9)};
    ApplyResult r = relay.apply(rows);
    EXPECT_EQ(r.listeners, 0u);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].to_string().rfind(
                  "relay.conf:9: address: cannot bind 10.79.1.2:80: Cannot assign requested "
                  "address (cannot add an alias: no interface nosuchif0",
                  0),
              0u)
        << r.diagnostics[0].to_string();
}

TEST_F(RelayNetns, UnbindableRowIsReportedWhileOthersServe) {
    Server server(19015, echo_handler);
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row({10, 9, 9, 9}, 80, server.endpoint(), 1, 3),
                               make_row(kRowA, 80, server.endpoint(), 1, 4)};
    ApplyResult r = relay.apply(rows);
    EXPECT_EQ(r.listeners, 1u);
    EXPECT_TRUE(r.usable());
    EXPECT_EQ(r.failed, 1u);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].to_string(),
              "relay.conf:3: address: cannot bind 10.9.9.9:80: Cannot assign requested address");
    EXPECT_EQ(relay.counter(Counter::bind_failed), 1u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_text(fd, "ping"));
    std::uint8_t b[4];
    EXPECT_TRUE(recv_exact(fd, b, 4));
    ::close(fd);
    // Nothing bindable at all: the relay does not serve.
    Relay none(test_options());
    std::vector<RelayRow> bad{make_row({10, 9, 9, 9}, 80, server.endpoint(), 1, 3)};
    EXPECT_FALSE(none.apply(bad).usable());
    server.stop();
}

TEST_F(RelayNetns, ConnectRefusedResetsClient) {
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 80, Endpoint{kLoopback, 19999})}; // nobody there
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(recv_outcome(fd), -ECONNRESET);
    ::close(fd);
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::connect_failed), 1u);
}

TEST_F(RelayNetns, ConnectTimeoutResetsClientAndOthersGoOn) {
    add_veth(); // 10.78.0.99 on va's subnet never answers ARP
    Server server(19016, echo_handler);
    RelayOptions o = test_options();
    o.workers = 1; // the dead service and the live one share a worker
    o.connect_timeout = 1500ms;
    Relay relay(o);
    std::vector<RelayRow> rows{make_row(kRowA, 80, Endpoint{{10, 78, 0, 99}, 80}),
                               make_row(kRowB, 80, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 2u);
    auto start = Clock::now();
    int dead = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(dead, 0);
    // Meanwhile another connection on the same worker is served at once.
    int live = connect_to({kRowB, 80}, 5s);
    ASSERT_GE(live, 0);
    ASSERT_TRUE(send_text(live, "ping"));
    std::uint8_t b[4];
    EXPECT_TRUE(recv_exact(live, b, 4));
    EXPECT_LT(Clock::now() - start, 1000ms);
    auto c = relay.connections();
    EXPECT_TRUE(std::any_of(c.begin(), c.end(), [](const ConnectionInfo& i) {
        return i.state == ConnectionState::connecting;
    }));
    EXPECT_EQ(recv_outcome(dead), -ECONNRESET);
    auto waited = Clock::now() - start;
    std::printf("client reset %lld ms after connecting (connect_timeout 1500 ms)\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()));
    EXPECT_GE(waited, 1400ms);
    EXPECT_LT(waited, 5s);
    EXPECT_EQ(relay.counter(Counter::connect_timeout), 1u);
    ::close(dead);
    ::close(live);
    server.stop();
}

TEST_F(RelayNetns, IdleTimeoutClosesBoth) {
    std::atomic<int> server_end{1};
    Server server(19017, [&](int fd) {
        echo_handler(::dup(fd));
        server_end = 0;
        ::close(fd);
    });
    RelayOptions o = test_options();
    o.idle_timeout = 800ms;
    Relay relay(o);
    std::vector<RelayRow> rows{make_row(kRowA, 80, server.endpoint())};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    // Activity keeps it alive past the timeout.
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(send_text(fd, "ping"));
        std::uint8_t b[4];
        ASSERT_TRUE(recv_exact(fd, b, 4));
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(relay.counter(Counter::idle_closed), 0u);
    auto start = Clock::now();
    EXPECT_EQ(recv_outcome(fd), -ECONNRESET);
    EXPECT_LT(Clock::now() - start, 3s);
    EXPECT_TRUE(wait_until([&] { return server_end.load() == 0; }));
    EXPECT_EQ(relay.counter(Counter::idle_closed), 1u);
    ::close(fd);
    server.stop();
}

TEST_F(RelayNetns, ProxyV2HeaderComesFirstOnTheServalLeg) {
    // The service reads the first 28 bytes of each connection, answers "ok"
    // and echoes the rest.
    std::mutex mutex;
    std::vector<std::string> firsts;
    Server server(19018, [&](int fd) {
        std::string first(kProxyV2HeaderSize, '\0');
        if (recv_exact(fd, reinterpret_cast<std::uint8_t*>(first.data()), first.size())) {
            std::lock_guard lock(mutex);
            firsts.push_back(first);
        }
        send_text(fd, "ok");
        echo_handler(fd);
    });
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 80, server.endpoint()),
                               make_row(kRowB, 80, server.endpoint())};
    rows[0].proxy_v2 = true;
    ASSERT_EQ(relay.apply(rows).listeners, 2u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    char b[7];
    ASSERT_TRUE(recv_exact(fd, reinterpret_cast<std::uint8_t*>(b), 2)); // before any client byte
    EXPECT_EQ(std::string(b, 2), "ok");
    ASSERT_TRUE(send_text(fd, "hello"));
    ASSERT_TRUE(recv_exact(fd, reinterpret_cast<std::uint8_t*>(b), 5));
    EXPECT_EQ(std::string(b, 5), "hello");
    ::close(fd);
    {
        std::lock_guard lock(mutex);
        ASSERT_EQ(firsts.size(), 1u);
        auto expected = proxy_v2_header(endpoint_of(local), {kRowA, 80});
        EXPECT_EQ(firsts[0], std::string(expected.begin(), expected.end()));
    }
    EXPECT_EQ(relay.counter(Counter::proxy_headers), 1u);
    // A row without it: the service's first bytes are the client's.
    int plain = connect_to({kRowB, 80}, 5s);
    ASSERT_GE(plain, 0);
    std::string msg(kProxyV2HeaderSize, 'p');
    ASSERT_TRUE(send_text(plain, msg));
    ASSERT_TRUE(recv_exact(plain, reinterpret_cast<std::uint8_t*>(b), 2));
    ::close(plain);
    {
        std::lock_guard lock(mutex);
        ASSERT_EQ(firsts.size(), 2u);
        EXPECT_EQ(firsts[1], msg);
    }
    EXPECT_EQ(relay.counter(Counter::proxy_headers), 1u);
    server.stop();
}

TEST_F(RelayNetns, SnapshotDescribesTheConnection) {
    Server server(19019, echo_handler);
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 80, server.endpoint(), 0x5e)};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_text(fd, "0123456789"));
    std::uint8_t b[10];
    ASSERT_TRUE(recv_exact(fd, b, 10));
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    auto c = relay.connections();
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].client, endpoint_of(local));
    EXPECT_EQ(c[0].row, (Endpoint{kRowA, 80}));
    EXPECT_EQ(c[0].target, server.endpoint());
    EXPECT_EQ(c[0].service.b[0], 0x5e);
    EXPECT_EQ(c[0].state, ConnectionState::relaying);
    EXPECT_EQ(c[0].bytes_to_service, 10u);
    EXPECT_EQ(c[0].bytes_to_client, 10u);
    EXPECT_EQ(c[0].pipe_to_service, 0u);
    EXPECT_EQ(c[0].pipe_capacity, 1u << 20);
    EXPECT_FALSE(c[0].copy_fallback);
    ::shutdown(fd, SHUT_WR);
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(recv_outcome(fd), 0);
    ::close(fd);
    auto l = relay.listeners();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].accepted, 1u);
    server.stop();
}

// CPU ticks (utime + stime, 1/100 s) of the relay's threads, by name.
std::uint64_t relay_thread_ticks() {
    std::uint64_t total = 0;
    std::string out = command_output("for t in /proc/" + std::to_string(::getpid()) +
                                     "/task/*; do if grep -q '^svxrelay' $t/comm; then cat "
                                     "$t/stat; fi; done");
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        auto close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream fields(line.substr(close + 2));
        std::string f;
        std::vector<std::string> v;
        while (fields >> f)
            v.push_back(f);
        if (v.size() > 12) // state is field 3; utime 14, stime 15
            total += std::stoull(v[11]) + std::stoull(v[12]);
    }
    return total;
}

// Stuck states must not spin a worker: a client that half-closed and stopped
// reading while the service filled the pipe and then closed too (its socket
// hung up with nothing to read), plus a connection still connecting.
TEST_F(RelayNetns, BlockedConnectionsDoNotSpin) {
    add_veth();
    std::atomic<bool> filled{false};
    std::atomic<std::uint64_t> sent{0};
    Server server(19021, [&](int fd) {
        recv_outcome(fd); // the client's EOF
        int flags = ::fcntl(fd, F_GETFL);
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        std::vector<std::uint8_t> chunk(64 << 10, 'x');
        auto end = Clock::now() + 5s;
        int eagain_rounds = 0;
        while (Clock::now() < end && eagain_rounds < 20) {
            ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::uint64_t>(n);
            } else {
                ++eagain_rounds;
                std::this_thread::sleep_for(10ms);
            }
        }
        ::shutdown(fd, SHUT_WR);
        filled = true;
        std::this_thread::sleep_for(1500ms);
        ::close(fd);
    });
    RelayOptions o = test_options();
    o.pipe_size = 64 << 10;
    Relay relay(o);
    std::vector<RelayRow> rows{make_row(kRowA, 80, server.endpoint()),
                               make_row(kRowB, 80, Endpoint{{10, 78, 0, 99}, 80})};
    ASSERT_EQ(relay.apply(rows).listeners, 2u);
    int stuck = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(stuck, 0);
    ::shutdown(stuck, SHUT_WR);
    int connecting = connect_to({kRowB, 80}, 5s);
    ASSERT_GE(connecting, 0);
    ASSERT_TRUE(wait_until([&] { return filled.load(); }));
    std::this_thread::sleep_for(100ms);
    std::uint64_t before = relay_thread_ticks();
    std::this_thread::sleep_for(1s);
    std::uint64_t used = relay_thread_ticks() - before;
    auto c = relay.connections();
    EXPECT_EQ(c.size(), 2u);
    EXPECT_LE(used, 5u) << "relay threads used " << used << " ticks in 1 s while blocked";
    // Nothing was lost meanwhile: the client drains what the relay holds.
    std::uint64_t got = 0;
    for (;;) {
        std::uint8_t b[65536];
        ssize_t n = ::recv(stuck, b, sizeof(b), 0);
        if (n <= 0)
            break;
        got += static_cast<std::uint64_t>(n);
    }
    EXPECT_GT(got, 0u);
    EXPECT_EQ(got, sent.load());
    ::close(stuck);
    ::close(connecting);
    server.stop();
}

// Without a target override the Serval leg connects to the row's own pair;
// with no engine translating it, it would reach our own listener and chain
// connections. The relay recognises its own leg and resets it.
TEST_F(RelayNetns, OwnServalLegBackAtTheListenerIsRefused) {
    Relay relay(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 80, std::nullopt)};
    ASSERT_EQ(relay.apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(recv_outcome(fd), -ECONNRESET);
    ::close(fd);
    EXPECT_TRUE(wait_until([&] { return relay.connection_count() == 0; }));
    EXPECT_EQ(relay.counter(Counter::loops_refused), 1u);
    EXPECT_EQ(relay.counter(Counter::accepted), 2u); // the client, then our own leg
}

TEST_F(RelayNetns, StopResetsLiveConnections) {
    Server server(19020, echo_handler);
    auto relay = std::make_unique<Relay>(test_options());
    std::vector<RelayRow> rows{make_row(kRowA, 80, server.endpoint())};
    ASSERT_EQ(relay->apply(rows).listeners, 1u);
    int fd = connect_to({kRowA, 80}, 5s);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(wait_until([&] {
        return relay->connections().size() == 1 &&
               relay->connections()[0].state == ConnectionState::relaying;
    }));
    relay->stop();
    EXPECT_EQ(relay->counter(Counter::aborted_on_stop), 1u);
    EXPECT_EQ(recv_outcome(fd), -ECONNRESET);
    EXPECT_EQ(connect_to({kRowA, 80}, 5s), -ECONNREFUSED);
    ::close(fd);
    server.stop();
}

} // namespace
