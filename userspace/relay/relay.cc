// SPDX-License-Identifier: GPL-2.0 OR MIT
// The relay: acceptor, workers, connections. docs/relay.md describes the
// design; the rules that matter are repeated next to the code that keeps them.
#include "relay/relay.h"

#include "common/unique_fd.h"

#include "relay/alias.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace svxlat::relay {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;


// Closes with SO_LINGER 0: the peer gets a RST instead of a FIN.
void reset_close(UniqueFd& fd) {
    if (!fd)
        return;
    linger l{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    fd.reset();
}

sockaddr_in to_sockaddr(const Endpoint& e) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(e.port);
    std::memcpy(&sa.sin_addr, e.address.data(), 4);
    return sa;
}

Endpoint from_sockaddr(const sockaddr_in& sa) {
    Endpoint e;
    std::memcpy(e.address.data(), &sa.sin_addr, 4);
    e.port = ntohs(sa.sin_port);
    return e;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// Counters written by several threads (workers, acceptor, apply) and read by
// any: relaxed atomic adds, never torn.
class CounterBlock {
public:
    void add(Counter c, std::uint64_t n = 1) {
        values_[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
    }
    void add_to(CounterValues& out) const {
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] += values_[i].load(std::memory_order_relaxed);
    }

private:
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Counter::count)> values_{};
};

// Local endpoints of the Serval legs that connect to a row's own pair (no
// target override). Were one of them to be accepted by our own listener, the
// engine did not translate it and the relay would chain connections to
// itself until descriptors run out; such a connection is reset instead.
class LoopGuard {
public:
    static std::uint64_t key(const Endpoint& e) {
        return (std::uint64_t{e.address[0]} << 40) | (std::uint64_t{e.address[1]} << 32) |
               (std::uint64_t{e.address[2]} << 24) | (std::uint64_t{e.address[3]} << 16) | e.port;
    }
    void erase(std::uint64_t k) {
        std::lock_guard lock(mutex_);
        keys_.erase(k);
    }
    // connect() + getsockname() + insert, atomically for contains().
    // Returns connect()'s result (errno kept); `k` receives the key (0: none).
    int connect_recorded(int fd, const sockaddr_in& to, std::uint64_t& k) {
        std::lock_guard lock(mutex_);
        int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
        int err = errno;
        sockaddr_in local{};
        socklen_t len = sizeof(local);
        if ((r == 0 || err == EINPROGRESS) &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
            k = key(from_sockaddr(local));
            keys_.insert(k);
        }
        errno = err;
        return r;
    }
    bool contains(std::uint64_t k) const {
        std::lock_guard lock(mutex_);
        return keys_.contains(k);
    }

private:
    mutable std::mutex mutex_;
    std::unordered_set<std::uint64_t> keys_;
};

struct NewConnection {
    UniqueFd client;
    Endpoint client_endpoint;
    Endpoint row_endpoint;
    std::shared_ptr<const RelayRow> row;
};

constexpr std::uint64_t kWakeToken = 0;
constexpr int kMaxEvents = 256;
constexpr int kPumpRounds = 16; // per direction and event: fairness between connections
constexpr std::size_t kPipePoolMax = 64; // empty pipes a worker keeps for its next connections
constexpr int kClient = 0;
constexpr int kServer = 1;

// One direction of a connection: from side `d` to side `1 - d` (d = 0 is
// client -> service). Bytes go socket -> pipe -> socket with splice; where
// splice is refused they go through `buf` with recv/send instead.
struct Direction {
    UniqueFd pipe_r, pipe_w;
    std::size_t pipe_cap = 0;  // F_GETPIPE_SZ
    std::size_t pipe_held = 0; // bytes spliced in and not yet out
    bool splice_in = true;     // false: recv into buf (after the pipe drained)
    bool splice_out = true;    // false: read the pipe into buf, send from buf
    std::vector<std::uint8_t> buf;
    std::size_t buf_off = 0, buf_held = 0;
    bool eof = false;     // the source sent EOF
    bool shut = false;    // shutdown(destination, SHUT_WR) done
    bool stalled = false; // splice in said EAGAIN while the pipe held data: it may be
                          // full (pipe slots, not bytes); wait until the destination drains
    std::uint64_t bytes = 0;

    [[nodiscard]] std::size_t held() const { return pipe_held + buf_held; }
    // How much may be read from the source now (0: stop reading).
    [[nodiscard]] std::size_t room() const {
        if (eof || stalled)
            return 0;
        if (splice_in)
            return pipe_cap > pipe_held ? pipe_cap - pipe_held : 0;
        if (pipe_held > 0)
            return 0;                 // older bytes still in the pipe: keep the order
        return buf.size() - buf_held; // after compaction
    }
};

struct Conn {
    std::uint64_t id = 0;
    std::shared_ptr<const RelayRow> row;
    Endpoint client_endpoint, row_endpoint, target;
    std::array<UniqueFd, 2> fd;            // kClient, kServer
    std::array<std::uint32_t, 2> events{}; // registered interest
    std::array<bool, 2> in_epoll{};
    std::array<Direction, 2> dir;
    ConnectionState state = ConnectionState::connecting;
    Clock::time_point created, last_active;
    std::list<std::uint64_t>::iterator timer; // in connecting_ or active_
    std::array<std::uint8_t, kProxyV2HeaderSize> preamble{};
    std::size_t preamble_off = 0, preamble_len = 0;
    bool copy_fallback = false;
    std::uint64_t loop_key = 0; // in the LoopGuard while nonzero

    [[nodiscard]] bool preamble_pending() const { return preamble_off < preamble_len; }
};

enum class Outcome { ok, closed };

class Worker {
public:
    Worker(unsigned index, const RelayOptions& options, LoopGuard& loops)
        : index_(index), options_(options), loops_(loops), epoll_(::epoll_create1(EPOLL_CLOEXEC)),
          wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (!epoll_ || !wake_)
            throw std::system_error(errno, std::generic_category(), "relay worker");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kWakeToken;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
    }
    ~Worker() { join(); }

    void start() {
        thread_ = std::thread([this] { loop(); });
    }
    void request_stop() {
        stop_.store(true);
        wake();
    }
    void join() {
        if (thread_.joinable())
            thread_.join();
    }

    // Any thread: queue a new connection for this worker.
    void hand_over(NewConnection c) {
        live_.fetch_add(1, std::memory_order_relaxed);
        {
            std::lock_guard lock(queue_mutex_);
            queue_.push_back(std::move(c));
        }
        wake();
    }

    [[nodiscard]] std::size_t load() const { return live_.load(std::memory_order_relaxed); }
    [[nodiscard]] const CounterBlock& counters() const { return counters_; }

    void snapshot(std::vector<ConnectionInfo>& out) const {
        auto now = Clock::now();
        std::lock_guard lock(state_mutex_);
        for (const auto& [id, c] : conns_) {
            ConnectionInfo i;
            i.client = c->client_endpoint;
            i.row = c->row_endpoint;
            i.target = c->target;
            i.service = c->row->service;
            i.state = c->state;
            i.bytes_to_service = c->dir[kClient].bytes;
            i.bytes_to_client = c->dir[kServer].bytes;
            i.pipe_to_service = c->dir[kClient].held();
            i.pipe_to_client = c->dir[kServer].held();
            const Direction& d0 = c->dir[kClient];
            i.pipe_capacity = d0.pipe_cap > 0 ? d0.pipe_cap : d0.buf.size();
            i.age = duration_cast<milliseconds>(now - c->created);
            i.idle = duration_cast<milliseconds>(now - c->last_active);
            i.worker = index_;
            i.proxy_v2 = c->preamble_len > 0;
            i.copy_fallback = c->copy_fallback;
            out.push_back(i);
        }
    }

private:
    void wake() {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
    }

    void loop() {
        // SIGPIPE from a splice to a reset socket stays pending on this
        // thread instead of killing the process; the error comes back as EPIPE.
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &mask, nullptr);
        std::string name = "svxrelay-w" + std::to_string(index_);
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());

        std::array<epoll_event, kMaxEvents> events{};
        while (!stop_.load()) {
            int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, next_timeout_ms());
            std::lock_guard lock(state_mutex_);
            for (int i = 0; i < n; ++i) {
                std::uint64_t token = events[i].data.u64;
                if (token == kWakeToken) {
                    std::uint64_t v;
                    [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof(v));
                    take_new_connections();
                    continue;
                }
                auto it = conns_.find(token >> 1);
                if (it == conns_.end())
                    continue; // closed earlier in this batch
                on_event(*it->second, static_cast<int>(token & 1), events[i].events);
            }
            expire(Clock::now());
            graveyard_.clear();
        }
        std::lock_guard lock(state_mutex_);
        take_new_connections();
        while (!conns_.empty()) {
            counters_.add(Counter::aborted_on_stop);
            abort(*conns_.begin()->second);
        }
        graveyard_.clear();
    }

    int next_timeout_ms() {
        std::lock_guard lock(state_mutex_);
        auto now = Clock::now();
        auto deadline = now + std::chrono::seconds{1};
        if (!connecting_.empty())
            deadline = std::min(deadline,
                                conns_.at(connecting_.front())->created + options_.connect_timeout);
        if (!active_.empty() && options_.idle_timeout.count() > 0)
            deadline =
                std::min(deadline, conns_.at(active_.front())->last_active + options_.idle_timeout);
        if (deadline <= now)
            return 0;
        return static_cast<int>(duration_cast<milliseconds>(deadline - now).count()) + 1;
    }

    void expire(Clock::time_point now) {
        while (!connecting_.empty()) {
            Conn& c = *conns_.at(connecting_.front());
            if (c.created + options_.connect_timeout > now)
                break;
            counters_.add(Counter::connect_timeout);
            abort(c);
        }
        if (options_.idle_timeout.count() <= 0)
            return;
        while (!active_.empty()) {
            Conn& c = *conns_.at(active_.front());
            if (c.last_active + options_.idle_timeout > now)
                break;
            counters_.add(Counter::idle_closed);
            abort(c);
        }
    }

    void take_new_connections() {
        std::vector<NewConnection> batch;
        {
            std::lock_guard lock(queue_mutex_);
            batch.swap(queue_);
        }
        for (auto& n : batch) {
            if (stop_.load()) {
                reset_close(n.client);
                counters_.add(Counter::aborted_on_stop);
                live_.fetch_sub(1, std::memory_order_relaxed);
                continue;
            }
            begin(std::move(n));
        }
    }

    // Accepted connection -> non-blocking connect of the Serval leg.
    void begin(NewConnection n) {
        auto owned = std::make_unique<Conn>();
        Conn& c = *owned;
        c.id = next_id_++;
        c.row = std::move(n.row);
        c.client_endpoint = n.client_endpoint;
        c.row_endpoint = n.row_endpoint;
        c.target = c.row->effective_target();
        c.fd[kClient] = std::move(n.client);
        c.created = c.last_active = Clock::now();
        conns_.emplace(c.id, std::move(owned));
        c.timer = connecting_.insert(connecting_.end(), c.id);
        // A looped-back Serval leg comes from the row's own address (the
        // source the kernel picks for a local destination).
        if (c.client_endpoint.address == c.row_endpoint.address &&
            loops_.contains(LoopGuard::key(c.client_endpoint))) {
            counters_.add(Counter::loops_refused);
            abort(c);
            return;
        }

        int one = 1;
        ::setsockopt(c.fd[kClient].get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c.fd[kServer] = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!c.fd[kServer]) {
            counters_.add(Counter::setup_failed);
            abort(c);
            return;
        }
        ::setsockopt(c.fd[kServer].get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (options_.serval_mark != 0)
            ::setsockopt(c.fd[kServer].get(), SOL_SOCKET, SO_MARK, &options_.serval_mark,
                         sizeof(options_.serval_mark));
        sockaddr_in sa = to_sockaddr(c.target);
        int r;
        if (c.row->target) {
            r = ::connect(c.fd[kServer].get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
        } else {
            // connect() and recording the local endpoint happen under the
            // guard's lock, so our own listener cannot accept this leg
            // before the guard knows it.
            r = loops_.connect_recorded(c.fd[kServer].get(), sa, c.loop_key);
        }
        if (r == 0) {
            connected(c);
            return;
        }
        if (errno != EINPROGRESS) {
            counters_.add(Counter::connect_failed);
            abort(c);
            return;
        }
        // The client is watched for errors only (a reset while we connect).
        set_interest(c, kClient, 0, /*force=*/true);
        set_interest(c, kServer, EPOLLOUT);
    }

    void finish_connect(Conn& c) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(c.fd[kServer].get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err != 0) {
            counters_.add(Counter::connect_failed);
            abort(c);
            return;
        }
        connected(c);
    }

    void connected(Conn& c) {
        counters_.add(Counter::connected);
        c.state = ConnectionState::relaying;
        connecting_.erase(c.timer);
        c.last_active = Clock::now();
        c.timer = active_.insert(active_.end(), c.id);
        for (auto& d : c.dir) {
            if (!options_.use_splice) {
                d.splice_in = d.splice_out = false;
                d.buf.resize(options_.copy_buffer);
                continue;
            }
            if (!pipe_pool_.empty()) {
                // An empty pipe of an earlier connection: no pipe2, no fcntl.
                PooledPipe& pp = pipe_pool_.back();
                d.pipe_r = std::move(pp.r);
                d.pipe_w = std::move(pp.w);
                d.pipe_cap = pp.cap;
                pipe_pool_.pop_back();
                continue;
            }
            int p[2];
            if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
                counters_.add(Counter::setup_failed);
                abort(c);
                return;
            }
            d.pipe_r = UniqueFd(p[0]);
            d.pipe_w = UniqueFd(p[1]);
            // F_SETPIPE_SZ returns the size it set; F_GETPIPE_SZ only when refused.
            int cap = options_.pipe_size > 0
                          ? ::fcntl(d.pipe_w.get(), F_SETPIPE_SZ, static_cast<int>(options_.pipe_size))
                          : -1;
            if (cap < 0) {
                if (options_.pipe_size > 0)
                    counters_.add(Counter::pipe_size_refused);
                cap = ::fcntl(d.pipe_w.get(), F_GETPIPE_SZ);
            }
            d.pipe_cap = cap > 0 ? static_cast<std::size_t>(cap) : 65536;
        }
        if (c.row->proxy_v2) {
            c.preamble = proxy_v2_header(c.client_endpoint, c.row_endpoint);
            c.preamble_len = c.preamble.size();
        }
        if (pump(c, kClient) == Outcome::closed || pump(c, kServer) == Outcome::closed)
            return;
        settle(c);
    }

    void on_event(Conn& c, int side, std::uint32_t ev) {
        if (c.state == ConnectionState::connecting) {
            if (side == kServer) {
                finish_connect(c);
            } else {
                // Only EPOLLERR/EPOLLHUP are reported for the client now.
                counters_.add(Counter::client_aborted);
                abort(c);
            }
            return;
        }
        if (ev & EPOLLERR) {
            counters_.add(Counter::resets_propagated);
            abort(c);
            return;
        }
        // Readable (or EOF/hangup): move bytes out of this side. Writable:
        // move bytes into it. Each pump makes progress or stops asking.
        if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && pump(c, side) == Outcome::closed)
            return;
        if ((ev & (EPOLLOUT | EPOLLHUP)) && pump(c, 1 - side) == Outcome::closed)
            return;
        settle(c);
    }

    // Moves what it can from side d to side 1 - d.
    Outcome pump(Conn& c, int d) {
        Direction& D = c.dir[d];
        int src = c.fd[d].get();
        int dst = c.fd[1 - d].get();
        bool moved = false;
        for (int round = 0; round < kPumpRounds; ++round) {
            bool progress = false;
            bool out_blocked = false;
            if (d == kClient && c.preamble_pending()) {
                ssize_t n = ::send(dst, c.preamble.data() + c.preamble_off,
                                   c.preamble_len - c.preamble_off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                    c.preamble_off += static_cast<std::size_t>(n);
                    if (!c.preamble_pending())
                        counters_.add(Counter::proxy_headers);
                    progress = true;
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    return reset_both(c);
                } else {
                    out_blocked = true;
                }
            }
            // In: source -> pipe (or buffer).
            if (std::size_t room = D.room(); room > 0) {
                ssize_t n;
                if (D.splice_in) {
                    n = ::splice(src, nullptr, D.pipe_w.get(), nullptr, room,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                } else {
                    compact(D);
                    n = ::recv(src, D.buf.data() + D.buf_off + D.buf_held, room, MSG_DONTWAIT);
                }
                if (n > 0) {
                    (D.splice_in ? D.pipe_held : D.buf_held) += static_cast<std::size_t>(n);
                    progress = moved = true;
                } else if (n == 0) {
                    D.eof = true;
                    progress = true;
                } else if (errno == EAGAIN || errno == EINTR) {
                    if (D.held() > 0)
                        D.stalled = true;
                } else if (errno == EINVAL && D.splice_in) {
                    fall_back(c, D);
                    D.splice_in = false;
                    progress = true;
                } else {
                    return reset_both(c); // ECONNRESET, ETIMEDOUT, ...
                }
            }
            // Out: pipe (or buffer) -> destination, after the PROXY header.
            if (!out_blocked && !c.preamble_pending() && D.held() > 0) {
                ssize_t n = -1;
                int err = 0;
                if (D.pipe_held > 0 && D.splice_out) {
                    n = ::splice(D.pipe_r.get(), nullptr, dst, nullptr, D.pipe_held,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                    err = n < 0 ? errno : 0;
                    if (n > 0)
                        D.pipe_held -= static_cast<std::size_t>(n);
                    if (n < 0 && err == EINVAL) {
                        fall_back(c, D);
                        D.splice_out = false;
                        progress = true;
                        n = 0;
                    }
                } else {
                    if (D.pipe_held > 0) {
                        // splice out refused: the pipe drains through the buffer.
                        compact(D);
                        std::size_t space = D.buf.size() - D.buf_off - D.buf_held;
                        ssize_t r = ::read(D.pipe_r.get(), D.buf.data() + D.buf_off + D.buf_held,
                                           std::min(space, D.pipe_held));
                        if (r > 0) {
                            D.pipe_held -= static_cast<std::size_t>(r);
                            D.buf_held += static_cast<std::size_t>(r);
                        }
                    }
                    if (D.buf_held > 0) {
                        n = ::send(dst, D.buf.data() + D.buf_off, D.buf_held,
                                   MSG_NOSIGNAL | MSG_DONTWAIT);
                        err = n < 0 ? errno : 0;
                        if (n > 0) {
                            D.buf_off += static_cast<std::size_t>(n);
                            D.buf_held -= static_cast<std::size_t>(n);
                            if (D.buf_held == 0)
                                D.buf_off = 0;
                        }
                    } else {
                        n = 0;
                    }
                }
                if (n > 0) {
                    D.bytes += static_cast<std::uint64_t>(n);
                    counters_.add(d == kClient ? Counter::bytes_to_service
                                               : Counter::bytes_to_client,
                                  static_cast<std::uint64_t>(n));
                    D.stalled = false;
                    progress = moved = true;
                } else if (n < 0 && err != EAGAIN && err != EINTR) {
                    return reset_both(c); // EPIPE, ECONNRESET: the destination is gone
                }
            }
            if (!progress)
                break;
        }
        if (moved) {
            c.last_active = Clock::now();
            active_.splice(active_.end(), active_, c.timer);
        }
        // Half-close: the source's EOF is passed on only once everything it
        // sent before has left the pipe.
        if (D.eof && D.held() == 0 && !D.shut && !(d == kClient && c.preamble_pending())) {
            ::shutdown(dst, SHUT_WR);
            D.shut = true;
            counters_.add(Counter::half_closes);
            c.state = ConnectionState::half_closed;
            if (c.dir[1 - d].shut) {
                counters_.add(Counter::closed);
                close(c);
                return Outcome::closed;
            }
        }
        if (D.eof)
            c.state = ConnectionState::half_closed;
        return Outcome::ok;
    }

    // splice was refused on this direction: recv/send from now on.
    void fall_back(Conn& c, Direction& D) {
        if (D.buf.empty()) {
            D.buf.resize(options_.copy_buffer);
            counters_.add(Counter::splice_fallback);
        }
        c.copy_fallback = true;
    }

    static void compact(Direction& D) {
        if (D.buf_off > 0 && D.buf_held > 0)
            std::memmove(D.buf.data(), D.buf.data() + D.buf_off, D.buf_held);
        D.buf_off = 0;
    }

    // Registers what each socket is waited for. A socket waited for nothing
    // is taken out of the epoll set: level-triggered EPOLLHUP cannot be
    // masked, and a hung-up socket with nothing to do would spin.
    void settle(Conn& c) {
        for (int s : {kClient, kServer}) {
            std::uint32_t want = 0;
            if (c.dir[s].room() > 0)
                want |= EPOLLIN | EPOLLRDHUP;
            if (c.dir[1 - s].held() > 0 || (s == kServer && c.preamble_pending()))
                want |= EPOLLOUT;
            set_interest(c, s, want);
        }
    }

    void set_interest(Conn& c, int side, std::uint32_t want, bool force = false) {
        int fd = c.fd[side].get();
        if (want == 0 && !force) {
            if (c.in_epoll[side]) {
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
                c.in_epoll[side] = false;
            }
            return;
        }
        if (c.in_epoll[side] && c.events[side] == want)
            return;
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 = (c.id << 1) | static_cast<std::uint64_t>(side);
        ::epoll_ctl(epoll_.get(), c.in_epoll[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
        c.in_epoll[side] = true;
        c.events[side] = want;
    }

    Outcome reset_both(Conn& c) {
        counters_.add(Counter::resets_propagated);
        abort(c);
        return Outcome::closed;
    }

    // Resets both sides (SO_LINGER 0) and forgets the connection.
    void abort(Conn& c) {
        reset_close(c.fd[kClient]);
        reset_close(c.fd[kServer]);
        forget(c);
    }

    // Both directions finished: plain close.
    void close(Conn& c) {
        c.fd[kClient].reset();
        c.fd[kServer].reset();
        forget(c);
    }

    // Keeps the connection's empty pipes for the next connections (a pipe
    // that still holds bytes, or whose direction fell back to recv/send, is
    // closed with the connection).
    void recycle_pipes(Conn& c) {
        for (auto& d : c.dir) {
            if (!d.pipe_r || !d.pipe_w || d.pipe_held != 0 || !d.splice_in || !d.splice_out ||
                pipe_pool_.size() >= kPipePoolMax)
                continue;
            pipe_pool_.push_back({std::move(d.pipe_r), std::move(d.pipe_w), d.pipe_cap});
        }
    }

    void forget(Conn& c) {
        recycle_pipes(c);
        if (c.loop_key != 0)
            loops_.erase(c.loop_key);
        // close() removed the sockets from the epoll set.
        (c.state == ConnectionState::connecting ? connecting_ : active_).erase(c.timer);
        auto it = conns_.find(c.id);
        graveyard_.push_back(std::move(it->second)); // freed after the event batch
        conns_.erase(it);
        live_.fetch_sub(1, std::memory_order_relaxed);
    }

    unsigned index_;
    const RelayOptions& options_;
    LoopGuard& loops_;
    UniqueFd epoll_, wake_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> live_{0};
    CounterBlock counters_;

    std::mutex queue_mutex_;
    std::vector<NewConnection> queue_;

    mutable std::mutex state_mutex_; // held while events are handled; snapshots take it
    std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns_;
    std::list<std::uint64_t> connecting_; // by start time (connect deadline order)
    std::list<std::uint64_t> active_;     // by last activity (idle deadline order)
    std::vector<std::unique_ptr<Conn>> graveyard_;
    struct PooledPipe {
        UniqueFd r, w;
        std::size_t cap;
    };
    std::vector<PooledPipe> pipe_pool_; // empty pipes, at most kPipePoolMax
    std::uint64_t next_id_ = 1;
};

struct Listener {
    std::uint64_t id = 0;
    UniqueFd fd;
    std::shared_ptr<const RelayRow> row;
    bool alias_added = false;
    std::atomic<std::uint64_t> accepted{0};
    bool paused = false;
    Clock::time_point resume_at{};
};

struct Alias {
    Ipv4Address address{};
    int ifindex = 0;
    std::string ifname;
};

} // namespace

class Relay::Impl {
public:
    explicit Impl(RelayOptions options) : options_(std::move(options)) {
        if (options_.workers == 0)
            options_.workers = std::max(1u, std::thread::hardware_concurrency());
        if (options_.copy_buffer == 0)
            options_.copy_buffer = 64u << 10;
        epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
        wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!epoll_ || !wake_)
            throw std::system_error(errno, std::generic_category(), "relay acceptor");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kWakeToken;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
        for (unsigned i = 0; i < options_.workers; ++i)
            workers_.push_back(std::make_unique<Worker>(i, options_, loops_));
        for (auto& w : workers_)
            w->start();
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~Impl() { stop(); }

    ApplyResult apply(std::span<const RelayRow> rows) {
        std::lock_guard apply_lock(apply_mutex_);
        ApplyResult result;
        if (stopped_) {
            result.diagnostics.push_back(
                {config::Diagnostic::Severity::error, "", 0, "relay", "stopped; rows not applied"});
            return result;
        }
        if (applied_once_)
            counters_.add(Counter::reloads);
        applied_once_ = true;

        std::vector<RelayRow> old_rows;
        {
            std::lock_guard lock(listeners_mutex_);
            for (const auto& [endpoint, l] : listeners_)
                old_rows.push_back(*l->row);
        }
        RowDiff diff = diff_rows(old_rows, rows);
        for (std::size_t i : diff.duplicates) {
            const RelayRow& row = rows[i];
            result.diagnostics.push_back(
                {config::Diagnostic::Severity::error, row.file, row.line, "row",
                 "duplicate of " + format_endpoint(row.listen) + "; skipped"});
        }
        {
            std::lock_guard lock(listeners_mutex_);
            for (std::size_t i : diff.removed) {
                auto it = listeners_.find(old_rows[i].listen);
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
                by_id_.erase(it->second->id);
                listeners_.erase(it); // closes the socket; live connections go on
            }
            // Changed and unchanged rows keep their socket; the new settings
            // reach new connections (each connection holds its own row).
            for (const auto& list : {diff.changed, diff.unchanged})
                for (std::size_t i : list)
                    listeners_.at(rows[i].listen)->row = std::make_shared<const RelayRow>(rows[i]);
        }
        for (std::size_t i : diff.added) {
            std::string reason;
            bool alias_added = false;
            UniqueFd fd = bind_listener(rows[i], reason, alias_added);
            if (!fd) {
                counters_.add(Counter::bind_failed);
                result.diagnostics.push_back({config::Diagnostic::Severity::error, rows[i].file,
                                              rows[i].line, "address", reason});
                ++result.failed;
                continue;
            }
            auto l = std::make_unique<Listener>();
            l->id = next_listener_id_++;
            l->fd = std::move(fd);
            l->row = std::make_shared<const RelayRow>(rows[i]);
            l->alias_added = alias_added;
            std::lock_guard lock(listeners_mutex_);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = l->id;
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, l->fd.get(), &ev);
            by_id_[l->id] = l.get();
            listeners_[rows[i].listen] = std::move(l);
        }
        // Diagnostics in row order.
        std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                         [](const auto& a, const auto& b) { return a.line < b.line; });
        result.added = diff.added.size() - result.failed;
        result.removed = diff.removed.size();
        result.changed = diff.changed.size();
        result.unchanged = diff.unchanged.size();
        std::lock_guard lock(listeners_mutex_);
        result.listeners = listeners_.size();
        return result;
    }

    void stop() {
        std::lock_guard apply_lock(apply_mutex_);
        if (stopped_)
            return;
        stopped_ = true;
        {
            std::lock_guard lock(listeners_mutex_);
            listeners_.clear();
            by_id_.clear();
        }
        stop_accepting_.store(true);
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
        if (acceptor_.joinable())
            acceptor_.join();
        for (auto& w : workers_)
            w->request_stop();
        for (auto& w : workers_)
            w->join();
        std::lock_guard lock(listeners_mutex_);
        for (const auto& a : aliases_) {
            if (detail::remove_alias(a.ifindex, a.address) == 0)
                counters_.add(Counter::aliases_removed);
            else
                counters_.add(Counter::alias_errors);
        }
        aliases_.clear();
    }

    CounterValues counters() const {
        CounterValues v{};
        counters_.add_to(v);
        for (const auto& w : workers_)
            w->counters().add_to(v);
        return v;
    }

    std::vector<ConnectionInfo> connections() const {
        std::vector<ConnectionInfo> out;
        for (const auto& w : workers_)
            w->snapshot(out);
        return out;
    }

    std::vector<ListenerInfo> listeners() const {
        std::lock_guard lock(listeners_mutex_);
        std::vector<ListenerInfo> out;
        for (const auto& [endpoint, l] : listeners_)
            out.push_back({*l->row, l->alias_added, l->accepted.load(std::memory_order_relaxed)});
        return out;
    }

    std::size_t connection_count() const {
        std::size_t n = 0;
        for (const auto& w : workers_)
            n += w->load();
        return n;
    }

    std::vector<std::pair<Ipv4Address, std::string>> aliases() const {
        std::lock_guard lock(listeners_mutex_);
        std::vector<std::pair<Ipv4Address, std::string>> out;
        for (const auto& a : aliases_)
            out.emplace_back(a.address, a.ifname);
        return out;
    }

    const RelayOptions& options() const { return options_; }
    unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

private:
    bool is_our_alias(const Ipv4Address& address) const {
        return std::any_of(aliases_.begin(), aliases_.end(),
                           [&](const Alias& a) { return a.address == address; });
    }

    // A listening socket for the row, or an empty fd with `reason` set.
    UniqueFd bind_listener(const RelayRow& row, std::string& reason, bool& alias_added) {
        std::string where = format_endpoint(row.listen);
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) {
            reason = "cannot create a socket for " + where + ": " + errno_text(errno);
            return {};
        }
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in sa = to_sockaddr(row.listen);
        auto try_bind = [&] {
            return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0;
        };
        bool bound = try_bind();
        int err = errno;
        if (!bound && err == EADDRNOTAVAIL && options_.dynamic_aliasing) {
            std::string alias_error;
            if (add_alias(row.listen.address, alias_error)) {
                alias_added = true;
                bound = try_bind();
                err = errno;
            } else {
                reason = "cannot bind " + where + ": " + errno_text(err) + " (" + alias_error + ")";
                return {};
            }
        }
        if (!bound) {
            reason = "cannot bind " + where + ": " + errno_text(err);
            return {};
        }
        if (is_our_alias(row.listen.address))
            alias_added = true;
        if (::listen(fd.get(), options_.backlog) < 0) {
            reason = "cannot listen on " + where + ": " + errno_text(errno);
            return {};
        }
        return fd;
    }

    bool add_alias(const Ipv4Address& address, std::string& error) {
        std::string why;
        auto iface = detail::choose_alias_interface(options_.alias_interface, why);
        if (!iface) {
            counters_.add(Counter::alias_errors);
            error = "cannot add an alias: " + why;
            return false;
        }
        int err = detail::add_alias(iface->index, address);
        if (err != 0) {
            counters_.add(Counter::alias_errors);
            error = "cannot add " + config::format_address(address) + "/32 to " + iface->name +
                    ": " + errno_text(err);
            return false;
        }
        counters_.add(Counter::aliases_added);
        std::lock_guard lock(listeners_mutex_);
        aliases_.push_back({address, iface->index, iface->name});
        return true;
    }

    void accept_loop() {
        pthread_setname_np(pthread_self(), "svxrelay-acc");
        std::array<epoll_event, 64> events{};
        std::size_t next_worker = 0;
        while (!stop_accepting_.load()) {
            int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                 paused_count_ > 0 ? 100 : 1000);
            std::lock_guard lock(listeners_mutex_);
            for (int i = 0; i < n; ++i) {
                if (events[i].data.u64 == kWakeToken) {
                    std::uint64_t v;
                    [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof(v));
                    continue;
                }
                auto it = by_id_.find(events[i].data.u64);
                if (it != by_id_.end())
                    accept_from(*it->second, next_worker);
            }
            resume_paused();
        }
    }

    // Drains the listener's queue (bounded per round, so other listeners and
    // a stop are not starved). Called with listeners_mutex_ held.
    void accept_from(Listener& l, std::size_t& next_worker) {
        for (int k = 0; k < 64; ++k) {
            sockaddr_in peer{};
            socklen_t len = sizeof(peer);
            int fd = ::accept4(l.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                    continue;
                // Out of descriptors or memory: level-triggered epoll would
                // report the listener again at once; pause it briefly.
                counters_.add(Counter::accept_errors);
                epoll_event ev{};
                ev.events = 0;
                ev.data.u64 = l.id;
                ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, l.fd.get(), &ev);
                l.paused = true;
                l.resume_at = Clock::now() + milliseconds{100};
                ++paused_count_;
                return;
            }
            NewConnection c;
            c.client = UniqueFd(fd);
            c.client_endpoint = from_sockaddr(peer);
            c.row_endpoint = l.row->listen;
            c.row = l.row;
            counters_.add(Counter::accepted);
            l.accepted.fetch_add(1, std::memory_order_relaxed);
            pick_worker(next_worker).hand_over(std::move(c));
        }
    }

    void resume_paused() {
        if (paused_count_ == 0)
            return;
        auto now = Clock::now();
        paused_count_ = 0;
        for (auto& [id, l] : by_id_) {
            if (!l->paused)
                continue;
            if (l->resume_at > now) {
                ++paused_count_;
                continue;
            }
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = id;
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, l->fd.get(), &ev);
            l->paused = false;
        }
    }

    // The worker with the fewest live connections; ties go round-robin.
    Worker& pick_worker(std::size_t& next) {
        std::size_t best = next % workers_.size();
        for (std::size_t k = 1; k < workers_.size(); ++k) {
            std::size_t i = (next + k) % workers_.size();
            if (workers_[i]->load() < workers_[best]->load())
                best = i;
        }
        next = best + 1;
        return *workers_[best];
    }

    RelayOptions options_;
    CounterBlock counters_; // acceptor and apply
    LoopGuard loops_;       // shared by the workers
    std::vector<std::unique_ptr<Worker>> workers_;
    UniqueFd epoll_, wake_; // the acceptor's
    std::thread acceptor_;
    std::atomic<bool> stop_accepting_{false};
    std::size_t paused_count_ = 0; // acceptor thread only

    std::mutex apply_mutex_; // one apply() or stop() at a time
    bool applied_once_ = false;
    bool stopped_ = false;
    std::uint64_t next_listener_id_ = 1;

    mutable std::mutex listeners_mutex_; // listeners_, by_id_, aliases_
    std::map<Endpoint, std::unique_ptr<Listener>> listeners_;
    std::unordered_map<std::uint64_t, Listener*> by_id_;
    std::vector<Alias> aliases_;
};

std::uint64_t raise_nofile_limit() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 0;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &r);
        ::getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur;
}

Relay::Relay(RelayOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Relay::~Relay() = default;
ApplyResult Relay::apply(std::span<const RelayRow> rows) {
    return impl_->apply(rows);
}
void Relay::stop() {
    impl_->stop();
}
CounterValues Relay::counters() const {
    return impl_->counters();
}
std::uint64_t Relay::counter(Counter which) const {
    return impl_->counters()[static_cast<std::size_t>(which)];
}
std::vector<ConnectionInfo> Relay::connections() const {
    return impl_->connections();
}
std::vector<ListenerInfo> Relay::listeners() const {
    return impl_->listeners();
}
std::size_t Relay::connection_count() const {
    return impl_->connection_count();
}
const RelayOptions& Relay::options() const {
    return impl_->options();
}
unsigned Relay::worker_count() const {
    return impl_->worker_count();
}
std::vector<std::pair<Ipv4Address, std::string>> Relay::aliases() const {
    return impl_->aliases();
}

} // namespace svxlat::relay
