#include "daemon/daemon.h"

#include "common/log.h"
#include "common/packet_text.h"
#include "common/unique_fd.h"
#include "config/table.h"
#include "control/control_protocol.h"
#include "kernel_engine/client.h"
#include "nfq/injector.h"
#include "nfq/queue.h"
#include "steer/steering.h"

#include <svxlat/reg.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace svxlat::daemon {

std::uint64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

namespace {

constexpr std::uint64_t kTickMs = 100;

engine::FlowLimits flow_limits(const EngineSettings& e) {
    engine::FlowLimits l;
    // Each worker holds its share of the table.
    l.max_flows = std::max<std::size_t>(1, e.max_flows / e.queues);
    l.max_embryonic = std::max<std::size_t>(1, e.max_embryonic / e.queues);
    l.timeout_ms = {static_cast<std::uint64_t>(e.timeout_embryonic.count()),
                    static_cast<std::uint64_t>(e.timeout_established.count()),
                    static_cast<std::uint64_t>(e.timeout_closing.count()),
                    static_cast<std::uint64_t>(e.timeout_time_wait.count())};
    return l;
}

std::string ms_text(std::uint64_t ms) {
    std::ostringstream s;
    s << ms / 1000 << "." << (ms % 1000) / 100 << "s";
    return s.str();
}

} // namespace

// Owns the steering rules; keeps removed table pairs steered while flows
// still use them (a reload must never cut a live flow).
class SteeringOwner {
public:
    SteeringOwner(steer::SteeringSpec spec, steer::Backend backend)
        : steering_(std::make_unique<steer::Steering>(std::move(spec), backend)) {
        steering_->install();
    }
    // One rule transaction: live flows are never left unsteered.
    void replace(steer::SteeringSpec spec) { steering_->replace(std::move(spec)); }
    const steer::SteeringSpec& spec() const { return steering_->spec(); }
    steer::Backend backend() const { return steering_->backend(); }

private:
    std::unique_ptr<steer::Steering> steering_;
};

class PacketThread {
public:
    PacketThread(unsigned index, const EngineSettings& e, const engine::SettingsHolder& holder)
        : queue_(queue_options(index, e)), injector_(nfq::InjectorOptions{.mark = e.mark}),
          worker_(index, e.queues, holder, flow_limits(e)), broadcast_mark_(e.broadcast_mark) {}

    void start() {
        thread_ = std::thread([this] { loop(); });
    }
    void stop() {
        stop_.store(true);
        if (thread_.joinable())
            thread_.join();
    }
    engine::Worker& worker() { return worker_; }
    const nfq::Queue& queue() const { return queue_; }
    const nfq::Injector& injector() const { return injector_; }

private:
    static nfq::QueueOptions queue_options(unsigned index, const EngineSettings& e) {
        nfq::QueueOptions o;
        o.queue_num = static_cast<std::uint16_t>(e.queue_num + index);
        o.gso = true;
        o.fail_open = e.fail_open;
        o.max_len = e.queue_length;
        o.rcvbuf_bytes = static_cast<int>(std::min<std::uint64_t>(e.rcvbuf_bytes, 1u << 30));
        return o;
    }

    void drain_outputs() {
        worker_.for_each_output([&](std::span<const std::uint8_t> p) { injector_.add(p); });
        worker_.clear_outputs();
    }

    // A packet translated to exactly one packet of the other protocol
    // (TCP <-> SAL, 1:1: everything but the segmentation of a GSO
    // super-packet) goes back to the kernel in place of the original: a
    // mangled accept verdict instead of drop + raw-socket injection. Queued
    // at PREROUTING, the kernel routes the new header after the hook; at
    // OUTPUT it reroutes when the addresses changed. Saves, per packet, the
    // raw socket's skb allocation, route lookup and OUTPUT/POSTROUTING
    // hooks, and on the host agent the loopback round (netif_rx, softirq,
    // PREROUTING) before the local TCP receives it. Order within a
    // direction is kept: switching between in-place and injected output
    // flushes the other kind first.
    bool replace_in_place(nfq::QueuedPacket& p) {
        if (p.payload.size() < 20 || p.is_gso() || worker_.output_count() != 1)
            return false;
        std::span<const std::uint8_t> only;
        worker_.for_each_output([&](std::span<const std::uint8_t> o) { only = o; });
        // Only a translation (the protocol changes) that keeps the source
        // address: a new source that is one of the box's own addresses (the
        // translator's SAL -> TCP direction) is dropped as a martian at
        // PREROUTING unless accept_local is set.
        if (only.size() < 20 || only[9] == p.payload[9] ||
            std::memcmp(only.data() + 12, p.payload.data() + 12, 4) != 0)
            return false;
        if (injector_.pending())
            injector_.flush(); // earlier injections leave first
        if (queue_.accept_mangled(p.id, only)) {
            worker_.clear_outputs();
            inplace_pending_ = true;
        } else { // over 65535 bytes: cannot happen for a 1:1 translation; inject
            drain_outputs();
            queue_.drop(p.id);
        }
        return true;
    }

    void loop() {
        UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
        epoll_event ev{};
        ev.events = EPOLLIN;
        epoll_ctl(ep.get(), EPOLL_CTL_ADD, queue_.fd(), &ev);
        std::uint64_t last_tick = monotonic_ms();
        while (!stop_.load(std::memory_order_relaxed)) {
            epoll_event out{};
            epoll_wait(ep.get(), &out, 1, static_cast<int>(kTickMs));
            std::uint64_t now = monotonic_ms();
            // Drain what is queued (bounded, so timers still run under load).
            for (int round = 0; round < 64; ++round) {
                std::size_t n = queue_.receive([&](nfq::QueuedPacket& p) {
                    // NFQUEUE does not report the packet type: the steering
                    // rules mark SAL to the router that came in a broadcast
                    // or multicast frame.
                    auto verdict = worker_.process(p.payload, now, p.checksum_not_ready(),
                                                   p.mark == broadcast_mark_);
                    if (verdict == engine::Verdict::drop && replace_in_place(p))
                        return;
                    if (worker_.output_count() && inplace_pending_) {
                        queue_.flush(); // earlier in-place replacements leave first
                        inplace_pending_ = false;
                    }
                    drain_outputs();
                    if (verdict == engine::Verdict::drop)
                        queue_.drop(p.id);
                    else
                        queue_.accept(p.id);
                });
                injector_.flush();
                queue_.flush();
                inplace_pending_ = false;
                if (n == 0)
                    break;
            }
            if (now - last_tick >= kTickMs) {
                worker_.tick(now);
                drain_outputs();
                injector_.flush();
                last_tick = now;
            }
        }
        // Shutdown: reset every live flow on both sides.
        worker_.abort_all();
        drain_outputs();
        injector_.flush();
        queue_.flush();
    }

    nfq::Queue queue_;
    nfq::Injector injector_;
    engine::Worker worker_;
    std::uint32_t broadcast_mark_; // fixed at start, as the steering rules' copy
    bool inplace_pending_ = false; // a mangled verdict waits in the queue's send buffer
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

// Host agent: registers the host's services with the router, refreshes them,
// withdraws a service whose local server stopped listening, and unregisters
// everything on a clean shutdown (protocol section 14.4).
class Registrar {
public:
    Registrar(const HostSettings& host, std::uint32_t mark)
        : host_(host), injector_(nfq::InjectorOptions{.mark = mark}) {
        engine::RandomSource random;
        src_flow_ = random.next_u32() | 1;
        xid_ = random.next_u32();
    }

    void set(const HostSettings& host) { host_ = host; }

    void maybe_refresh(std::uint64_t now_ms) {
        if (now_ms < next_ms_)
            return;
        next_ms_ = now_ms + static_cast<std::uint64_t>(host_.refresh.count());
        for (const auto& s : host_.services) {
            bool up = local_port_listening(s.port);
            auto key = std::make_pair(s.port, s.prefix_bits);
            bool was_registered = registered_.contains(key);
            if (up) {
                send(s, SVX_CTRLMSG_REGISTER, was_registered);
                registered_.insert(key);
                if (!was_registered)
                    log::info("host agent: registered ", sid_to_string(s.id), "/", s.prefix_bits,
                              " -> port ", s.port);
            } else if (was_registered) {
                send(s, SVX_CTRLMSG_UNREGISTER, false);
                registered_.erase(key);
                log::warning("host agent: port ", s.port, " not listening: unregistered ",
                             sid_to_string(s.id), "/", s.prefix_bits);
            }
        }
    }

    void unregister_all() {
        for (const auto& s : host_.services)
            if (registered_.contains({s.port, s.prefix_bits}))
                send(s, SVX_CTRLMSG_UNREGISTER, false);
        registered_.clear();
    }

    [[nodiscard]] std::size_t registered() const { return registered_.size(); }
    [[nodiscard]] std::uint64_t sent() const { return sent_; }

private:
    // The service counts as up when its TCP port accepts a connection.
    bool local_port_listening(std::uint16_t port) const {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (fd.get() < 0)
            return false;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        std::memcpy(&addr.sin_addr, host_.address.data(), 4);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
            return true;
        if (errno != EINPROGRESS)
            return false;
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, 200) != 1)
            return false;
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        return err == 0;
    }

    void send(const HostService& s, std::uint8_t type, bool reregister) {
        svx_reg_datagram d{};
        d.src_flow = src_flow_;
        d.dst_service = host_.router_id;
        d.src_service = host_.client_id;
        d.msg.type = type;
        d.msg.flags = reregister ? SVX_CTRLMSG_REG_FLAG_REREGISTER : 0;
        d.msg.prefix_bits = static_cast<std::uint16_t>(s.prefix_bits ? s.prefix_bits : 256);
        d.msg.xid = ++xid_;
        std::memcpy(d.msg.addr, host_.address.data(), 4);
        d.msg.service_id = s.id;
        svx_ipv4_spec ip{};
        std::memcpy(ip.saddr, host_.address.data(), 4);
        std::memcpy(ip.daddr, host_.router.data(), 4);
        ip.ttl = 64;
        std::array<std::uint8_t, SVX_REG_DATAGRAM_LEN> buf{};
        int len = svx_reg_datagram_build(buf.data(), buf.size(), &ip, &d);
        if (len <= 0) {
            log::error("host agent: cannot build registration: ",
                       svx_err_name(static_cast<svx_err>(-len)));
            return;
        }
        injector_.add({buf.data(), static_cast<std::size_t>(len)});
        injector_.flush();
        ++sent_;
    }

    HostSettings host_;
    nfq::Injector injector_;
    std::uint32_t src_flow_ = 0;
    std::uint32_t xid_ = 0;
    std::uint64_t next_ms_ = 0;
    std::uint64_t sent_ = 0;
    std::set<std::pair<std::uint16_t, unsigned>> registered_;
};

namespace {

// The rules the NFQUEUE side needs: every role's, or with the kernel engine
// (which hooks the translator's and host agent's packets itself) only the
// service router's.
steer::SteeringSpec steering_spec(const Config& c, const config::Table* table,
                                  const std::vector<steer::AddressPort>& draining,
                                  PacketEngine engine) {
    steer::SteeringSpec s;
    s.queue_base = c.engine.queue_num;
    s.queue_count = static_cast<std::uint16_t>(c.engine.queues);
    s.skip_mark = c.engine.mark;
    s.broadcast_mark = c.engine.broadcast_mark;
    s.fail_open = c.engine.fail_open;
    auto add_sal = [&](const Ipv4Address& a) {
        if (std::find(s.sal_inbound.begin(), s.sal_inbound.end(), a) == s.sal_inbound.end())
            s.sal_inbound.push_back(a);
    };
    const bool user_space_roles = engine == PacketEngine::nfqueue;
    if (user_space_roles && c.translator && table) {
        for (const auto& row : table->rows) {
            // Connections originated on this host to any pair (the relay's
            // Serval leg among them) are translated in OUTPUT; only packet-mode
            // pairs are translated on the way in.
            s.tcp_local_outbound.push_back({row.address, row.port});
            if (is_relay_row(c, row))
                continue;
            s.tcp_inbound.push_back({row.address, row.port});
        }
        for (const auto& p : draining) {
            s.tcp_inbound.push_back(p);
            s.tcp_local_outbound.push_back(p);
        }
        add_sal(c.translator->address);
    }
    if (c.router) {
        add_sal(c.router->address);
        // Section 12 step 1 needs the frame's packet type: the rules mark it.
        s.router_inbound.push_back(c.router->address);
    }
    if (user_space_roles && c.host) {
        add_sal(c.host->address);
        for (const auto& svc : c.host->services) {
            steer::AddressPort ap{c.host->address, svc.port};
            if (std::none_of(s.tcp_service_outbound.begin(), s.tcp_service_outbound.end(),
                             [&](const steer::AddressPort& x) {
                                 return x.address == ap.address && x.port == ap.port;
                             }))
                s.tcp_service_outbound.push_back(ap);
        }
    }
    s.icmp_inbound = !s.sal_inbound.empty();
    return s;
}

relay::RelayOptions relay_options(const Config& c) {
    relay::RelayOptions o;
    if (c.translator) {
        o.workers = c.translator->relay_workers;
        o.pipe_size = c.translator->relay_pipe_size;
        o.idle_timeout = c.translator->relay_idle_timeout;
        o.connect_timeout = c.translator->relay_connect_timeout;
        o.dynamic_aliasing = c.translator->dynamic_aliasing;
        o.alias_interface = c.translator->alias_interface;
    }
    return o;
}

steer::Backend backend_of(SteeringBackend b) {
    switch (b) {
    case SteeringBackend::nft:
        return steer::Backend::nft;
    case SteeringBackend::iptables:
        return steer::Backend::iptables;
    default:
        return steer::Backend::automatic;
    }
}

log::Level log_level_of(LogLevel l) {
    switch (l) {
    case LogLevel::error:
        return log::Level::error;
    case LogLevel::warning:
        return log::Level::warning;
    case LogLevel::debug:
        return log::Level::debug;
    default:
        return log::Level::info;
    }
}

} // namespace

Daemon::Daemon(Config config) : config_(std::move(config)) {}

Daemon::~Daemon() {
    stop();
}

std::shared_ptr<engine::RoleSettings> Daemon::build_settings(const Config& c, std::string& error) {
    auto s = std::make_shared<engine::RoleSettings>();
    s->flow.sal_mtu = c.engine.sal_mtu;
    s->flow.tcp_mtu = c.engine.tcp_mtu;
    s->flow.ttl = 64;
    s->flow.max_retrans = 8;
    s->flow.rto_initial_ms = 1000;
    s->flow.rto_max_ms = 60000;
    s->flow.fin_ack_delay_ms = static_cast<std::uint32_t>(c.engine.fin_ack_delay.count());
    auto now = router::Clock::now();
    if (c.translator) {
        auto loaded = config::load_table_file(c.translator->table);
        for (const auto& d : loaded.diagnostics)
            log::warning(d.to_string());
        if (!loaded.usable()) {
            error = c.translator->table + ": no valid row";
            return nullptr;
        }
        engine::RoleSettings::Translator t;
        t.address = c.translator->address;
        t.router = c.translator->router;
        t.table = std::make_shared<const config::Table>(std::move(loaded.table));
        t.strip_tcp_options = c.translator->tcp_options == TcpOptionPolicy::strip;
        if (!c.translator->services.empty()) {
            auto table = std::make_shared<router::ServiceTable>();
            for (const auto& svc : c.translator->services)
                table->add_static(svc.id, svc.prefix_bits, svc.address, svc.priority, svc.weight,
                                  now);
            t.static_services = std::move(table);
        }
        translator_services_ = t.static_services;
        s->translator = std::move(t);
    }
    if (c.host) {
        engine::RoleSettings::Host h;
        h.address = c.host->address;
        h.flow_port_low = c.host->flow_port_low;
        h.flow_port_high = c.host->flow_port_high;
        for (const auto& svc : c.host->services)
            h.services.push_back({svc.id, svc.prefix_bits, svc.port});
        s->host = std::move(h);
    }
    return s;
}

void Daemon::add_router(engine::RoleSettings& s, const Config& c) {
    if (!c.router)
        return;
    // Made once and kept across reloads, with its registrations; under the
    // kernel engine no larger than the module's table.
    if (!router_services_)
        router_services_ = make_router_table(*c.router, engine_ == PacketEngine::kernel);
    auto now = router::Clock::now();
    for (const auto& svc : c.router->services)
        if (!router_services_->add_static(svc.id, svc.prefix_bits, svc.address, svc.priority,
                                          svc.weight, now))
            log::warning(c.file, ":", svc.line,
                         ": [router] service: the service table is full; not added");
    s.router =
        engine::RoleSettings::Router{c.router->address, c.router->router_id, router_services_};
}

void Daemon::sync_kernel_router(const Config& c) {
    if (engine_ != PacketEngine::kernel || !kernel_ || !c.router || !router_services_) {
        // A reload removed the router: the module's table goes too.
        if (route_pusher_ && kernel_ && kernel_configured_) {
            try {
                kernel_->set_routes({}, {}, 0);
            } catch (const kernel_engine::KernelError& e) {
                log::warning("router removed: svxlat.ko keeps its unused table: ", e.what());
            }
        }
        route_pusher_.reset();
        return;
    }
    if (!route_pusher_)
        route_pusher_ = std::make_unique<RoutePusher>(
            [this](std::span<const svx_route_entry> entries,
                   std::span<const svx_route_target> targets, std::uint64_t generation) {
                kernel_->set_routes(entries, targets, generation);
            });
    // The module's router (new or changed) gets the whole table now, not a
    // tick later; a failure is retried from periodic().
    route_pusher_->invalidate();
    route_pusher_->push(*router_services_, router::Clock::now());
}

void Daemon::select_engine(const engine::RoleSettings& settings) {
    KernelPlan plan;
    KernelProbe probe;
    std::unique_ptr<kernel_engine::KernelClient> client;
    bool stale_config = false;
    if (has_kernel_roles(config_)) {
        try {
            client = std::make_unique<kernel_engine::KernelClient>();
            auto info = client->info();
            if (auto why = kernel_engine::incompatibility(info))
                probe = {KernelProbe::State::failed, *why};
            else
                probe = {KernelProbe::State::loaded, {}};
            stale_config = info.configured;
        } catch (const kernel_engine::KernelError& e) {
            probe = {e.kind() == kernel_engine::ErrorKind::family_missing
                         ? KernelProbe::State::missing
                         : KernelProbe::State::failed,
                     e.what()};
            client.reset();
        }
        if (config_.engine.engine != EngineKind::nfqueue)
            plan = plan_kernel_config(config_, settings, kernel_generation_ + 1);
    }
    auto choice = choose_engine(config_, plan, probe);
    if (!choice.error.empty())
        throw std::runtime_error(choice.error);
    engine_ = choice.engine;
    engine_reason_ = choice.reason;
    if (engine_ == PacketEngine::nfqueue) {
        log::info("engine: nfqueue (", engine_reason_, ")");
        // A configuration left by an earlier svxlatd that used the kernel
        // engine in this namespace would translate these roles' packets too.
        if (client && probe.state == KernelProbe::State::loaded && stale_config) {
            try {
                client->clear();
                log::warning("svxlat.ko held a configuration from an earlier run in this "
                             "namespace; cleared it");
            } catch (const kernel_engine::KernelError& e) {
                log::warning("svxlat.ko holds a configuration from an earlier run: ", e.what());
            }
        }
        return;
    }
    kernel_ = std::move(client);
    kernel_->apply(*plan.config);
    kernel_configured_ = true;
    kernel_generation_ = plan.config->generation;
    log::info("engine: kernel (", engine_reason_, "); svxlat.ko configured: ",
              plan.config->translator ? plan.config->translator->rows.size() : 0, " table row(s), ",
              plan.config->host ? plan.config->host->services.size() : 0, " host service(s), ",
              plan.config->router ? "the service router" : "no service router", ", generation ",
              kernel_generation_);
}

std::shared_ptr<const engine::RoleSettings>
Daemon::packet_thread_settings(std::shared_ptr<const engine::RoleSettings> all) const {
    if (engine_ == PacketEngine::nfqueue)
        return all;
    auto router_only = std::make_shared<engine::RoleSettings>(*all);
    router_only->translator.reset();
    router_only->host.reset();
    return router_only;
}

bool Daemon::needs_packet_threads(const Config& c) const {
    return engine_ == PacketEngine::nfqueue || c.router.has_value();
}

void Daemon::ensure_packet_threads(const Config& c) {
    if (!threads_.empty() || !needs_packet_threads(c))
        return;
    // Queues are bound before the rules exist, so no steered packet ever
    // meets an unbound queue.
    for (unsigned i = 0; i < config_.engine.queues; ++i)
        threads_.push_back(std::make_unique<PacketThread>(i, config_.engine, *settings_));
    for (auto& t : threads_)
        t->start();
}

void Daemon::update_steering(const Config& c, const config::Table* table,
                             const std::vector<steer::AddressPort>& draining) {
    if (!needs_packet_threads(c)) {
        if (steering_) {
            steering_.reset();
            log::info("steering removed: the kernel engine has every role");
        }
        return;
    }
    auto spec = steering_spec(c, table, draining, engine_);
    if (steering_) {
        steering_->replace(std::move(spec));
        return;
    }
    steering_ = std::make_unique<SteeringOwner>(std::move(spec), backend_of(c.engine.backend));
    log::info("steering installed (", steer::to_string(steering_->backend()), "), ",
              config_.engine.queues, " queue(s) from ", config_.engine.queue_num,
              engine_ == PacketEngine::kernel ? ", service router only" : "");
}

void Daemon::start() {
    log::set_level(log_level_of(config_.engine.log_level));
    std::string error;
    auto settings = build_settings(config_, error);
    if (!settings)
        throw std::runtime_error(error);
    select_engine(*settings);
    add_router(*settings, config_);
    sync_kernel_router(config_);
    role_settings_ = settings;
    settings_ = std::make_unique<engine::SettingsHolder>(packet_thread_settings(settings));
    const config::Table* table = settings->translator ? settings->translator->table.get() : nullptr;
    // Queues are bound before the rules exist, so no steered packet ever
    // meets an unbound queue.
    if (needs_packet_threads(config_))
        for (unsigned i = 0; i < config_.engine.queues; ++i)
            threads_.push_back(std::make_unique<PacketThread>(i, config_.engine, *settings_));
    steer::Steering::cleanup_stale();
    update_steering(config_, table, {});
    for (auto& t : threads_)
        t->start();
    if (config_.host)
        registrar_ = std::make_unique<Registrar>(*config_.host, config_.engine.mark);
    // After steering and the packet threads: the relay's Serval legs are
    // translated from its first connection on.
    if (!apply_relay(config_, settings->translator ? settings->translator->table.get() : nullptr))
        throw std::runtime_error("relay: no relay-mode row could be bound");
    started_ms_ = monotonic_ms();
}

bool Daemon::apply_relay(const Config& c, const config::Table* table) {
    std::vector<relay::RelayRow> rows;
    if (c.translator && table)
        for (const auto& row : table->rows)
            if (is_relay_row(c, row))
                rows.push_back(relay::relay_row_from_table(row, c.translator->table));
    if (rows.empty() && !relay_)
        return true;
    if (!relay_) {
        relay::raise_nofile_limit();
        relay_ = std::make_unique<relay::Relay>(relay_options(c));
    }
    auto result = relay_->apply(rows);
    for (const auto& d : result.diagnostics)
        log::warning(d.to_string());
    if (!rows.empty())
        log::info("relay: ", result.listeners, " of ", rows.size(), " relay rows listening (",
                  result.added, " added, ", result.removed, " removed, ", result.changed,
                  " changed)");
    return rows.empty() || result.usable();
}

void Daemon::stop() {
    // The relay first, while the engine still translates the resets of its
    // Serval legs; it also removes the aliases it added.
    if (relay_) {
        relay_->stop();
        relay_.reset();
    }
    if (registrar_) {
        registrar_->unregister_all();
        registrar_.reset();
    }
    // Rules first, so nothing more is queued to threads that are stopping.
    steering_.reset();
    for (auto& t : threads_)
        t->stop();
    threads_.clear();
    route_pusher_.reset();
    // The module resets the flows it held, as the workers did above; its
    // router table goes with the configuration.
    if (kernel_ && kernel_configured_) {
        try {
            kernel_->clear();
            log::info("kernel engine: configuration cleared");
        } catch (const kernel_engine::KernelError& e) {
            log::error("kernel engine: ", e.what());
        }
        kernel_configured_ = false;
    }
    kernel_.reset();
}

bool Daemon::reload() {
    auto parsed = load_daemon_config(config_.file);
    if (!parsed.ok()) {
        for (const auto& e : parsed.errors)
            log::error(e.to_string());
        log::error("reload: ", config_.file, " has errors; keeping the running configuration");
        ++reload_failures_;
        return false;
    }
    Config next = std::move(*parsed.config);
    if (next.engine.queues != config_.engine.queues ||
        next.engine.queue_num != config_.engine.queue_num ||
        next.engine.mark != config_.engine.mark ||
        next.engine.broadcast_mark != config_.engine.broadcast_mark)
        log::warning("reload: [engine] queues, queue-num, mark and broadcast-mark apply at the "
                     "next start");
    next.engine.queues = config_.engine.queues;
    next.engine.queue_num = config_.engine.queue_num;
    next.engine.mark = config_.engine.mark;
    // The packet threads compare against the running value.
    next.engine.broadcast_mark = config_.engine.broadcast_mark;
    if (next.engine.engine != config_.engine.engine)
        log::warning("reload: [engine] engine applies at the next start (running: ",
                     to_string(engine_), ")");
    std::string error;
    auto settings = build_settings(next, error);
    if (!settings) {
        log::error("reload: ", error, "; keeping the running configuration");
        ++reload_failures_;
        return false;
    }
    // The module first: it takes the whole configuration or nothing, so a
    // refusal leaves everything as it was.
    if (engine_ == PacketEngine::kernel) {
        if (!has_kernel_roles(next)) {
            if (kernel_configured_) {
                try {
                    kernel_->clear();
                } catch (const kernel_engine::KernelError& e) {
                    log::error("reload: ", e.what(), "; keeping the running configuration");
                    ++reload_failures_;
                    return false;
                }
                kernel_configured_ = false;
                route_pusher_.reset();
                log::info("reload: no role left; kernel engine cleared");
            }
        } else {
            auto plan = plan_kernel_config(next, *settings, kernel_generation_ + 1);
            if (!plan.config) {
                log::error("reload: the kernel engine cannot run the new configuration: ",
                           plan.unsupported, "; keeping the running configuration");
                ++reload_failures_;
                return false;
            }
            try {
                kernel_->apply(*plan.config);
            } catch (const kernel_engine::KernelError& e) {
                log::error("reload: ", e.what(), "; keeping the running configuration");
                ++reload_failures_;
                return false;
            }
            kernel_configured_ = true;
            kernel_generation_ = plan.config->generation;
        }
    }
    // The router's static services join the live table only now that the
    // reload cannot fail; the module's router then gets it at once.
    add_router(*settings, next);
    if (engine_ == PacketEngine::kernel && kernel_configured_)
        sync_kernel_router(next);
    // Pairs that left the table stay steered while their flows drain.
    std::vector<steer::AddressPort> draining;
    if (settings->translator && settings_->get()->translator) {
        std::set<std::pair<Ipv4Address, std::uint16_t>> still;
        for (const auto& row : settings->translator->table->rows)
            still.insert({row.address, row.port});
        std::set<std::pair<Ipv4Address, std::uint16_t>> in_use;
        for (auto& t : threads_)
            for (const auto& f : t->worker().snapshot_flows())
                if (f.flow.role == SVX_ROLE_TRANSLATOR) {
                    Ipv4Address a;
                    std::memcpy(a.data(), f.flow.tcp_self_addr, 4);
                    if (!still.contains({a, f.flow.tcp_self_port}))
                        in_use.insert({a, f.flow.tcp_self_port});
                }
        for (const auto& [a, p] : in_use)
            draining.push_back({a, p});
    }
    settings_->replace(packet_thread_settings(settings));
    role_settings_ = settings;
    for (auto& t : threads_)
        t->worker().set_limits(flow_limits(next.engine));
    ensure_packet_threads(next);
    update_steering(next, settings->translator ? settings->translator->table.get() : nullptr,
                    draining);
    if (registrar_ && next.host)
        registrar_->set(*next.host);
    // Incremental: new rows listen, removed rows stop listening (their live
    // connections go on), changed rows apply to new connections.
    if (!apply_relay(next, settings->translator ? settings->translator->table.get() : nullptr))
        log::error("reload: no relay-mode row could be bound; relay rows are not served");
    log::set_level(log_level_of(next.engine.log_level));
    config_ = std::move(next);
    ++reloads_;
    log::info("reloaded ", config_.file,
              settings->translator
                  ? ", " + std::to_string(settings->translator->table->rows.size()) + " table rows"
                  : std::string(),
              draining.empty() ? "" : ", draining removed pairs with live flows");
    return true;
}

void Daemon::periodic(std::uint64_t now_ms) {
    if (registrar_)
        registrar_->maybe_refresh(now_ms);
    // Expiry, and under the kernel engine the table pushed when it changed:
    // a registration reaches the module's forwarding within one tick.
    if (route_pusher_)
        route_pusher_->push(*router_services_, router::Clock::now());
    else if (router_services_)
        router_services_->expire(router::Clock::now());
}

int Daemon::run() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGPIPE);
    // Blocked before any thread starts, so only the signalfd sees them.
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    UniqueFd sfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));

    try {
        start();
    } catch (const std::exception& e) {
        log::error("cannot start: ", e.what());
        stop();
        return 1;
    }

    const std::string& path = config_.engine.control_socket;
    UniqueFd listen_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    {
        auto slash = path.rfind('/');
        if (slash != std::string::npos && slash > 0)
            ::mkdir(path.substr(0, slash).c_str(), 0755);
        ::unlink(path.c_str());
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), std::min(path.size(), sizeof(addr.sun_path) - 1));
        if (::bind(listen_fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 ||
            ::listen(listen_fd.get(), 16) < 0) {
            log::error("control socket ", path, ": ", std::strerror(errno));
            stop();
            return 1;
        }
        ::chmod(path.c_str(), 0660);
    }
    log::info("running: ", config_.translator ? "translator " : "", config_.router ? "router " : "",
              config_.host ? "host-agent " : "", "(control socket ", path, ")");

    for (bool running = true; running;) {
        pollfd fds[2] = {{sfd.get(), POLLIN, 0}, {listen_fd.get(), POLLIN, 0}};
        ::poll(fds, 2, static_cast<int>(kTickMs));
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si{};
            while (::read(sfd.get(), &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    log::info("signal ", si.ssi_signo, ": shutting down");
                    running = false;
                } else if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP) {
                    log::info("signal ", si.ssi_signo, ": reloading ", config_.file);
                    reload();
                }
            }
        }
        if (fds[1].revents & POLLIN)
            serve_control(listen_fd.get());
        periodic(monotonic_ms());
    }
    stop();
    ::unlink(path.c_str());
    log::info("stopped; steering rules removed");
    return 0;
}

void Daemon::serve_control(int listen_fd) {
    for (;;) {
        UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (conn.get() < 0)
            return;
        // One short request line; a client that sends nothing within 1 s is
        // dropped so it cannot stall the control thread.
        std::string line;
        char buf[control::kMaxRequestBytes + 1];
        while (line.size() <= control::kMaxRequestBytes && line.find('\n') == std::string::npos) {
            pollfd p{conn.get(), POLLIN, 0};
            if (::poll(&p, 1, 1000) != 1)
                break;
            ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
            if (n <= 0)
                break;
            line.append(buf, static_cast<std::size_t>(n));
        }
        std::string response = answer(line);
        std::size_t off = 0;
        while (off < response.size()) {
            pollfd p{conn.get(), POLLOUT, 0};
            if (::poll(&p, 1, 2000) != 1)
                break;
            ssize_t n = ::send(conn.get(), response.data() + off, response.size() - off,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0 && errno != EAGAIN)
                break;
            if (n > 0)
                off += static_cast<std::size_t>(n);
        }
    }
}

std::string Daemon::answer(std::string_view request_line) {
    auto parsed = control::parse_request(request_line);
    if (!parsed.request)
        return "error: " + parsed.error + "\n";
    const auto& r = *parsed.request;
    switch (r.command) {
    case control::Command::status:
        return render_status(r.json);
    case control::Command::table:
        return render_table(r.json);
    case control::Command::services:
        return render_services(r.json);
    case control::Command::flows:
        return render_flows(r.json);
    case control::Command::counters:
        return render_counters(r.json);
    case control::Command::reload:
        return reload() ? "reloaded\n" : "reload failed: see the daemon's log\n";
    }
    return "error: unhandled command\n";
}

std::string Daemon::render_status(bool json) const {
    std::size_t flows = 0;
    for (const auto& t : threads_)
        flows += t->worker().flow_count();
    // The module's view: its flows, and whether it holds our configuration.
    std::optional<kernel_engine::KernelInfo> kernel_info;
    std::string kernel_error;
    if (kernel_) {
        try {
            kernel_info = kernel_->info();
            flows += kernel_info->flow_count;
        } catch (const kernel_engine::KernelError& e) {
            kernel_error = e.what();
        }
    }
    std::uint64_t up = monotonic_ms() - started_ms_;
    std::ostringstream o;
    if (json) {
        o << "{\"config\":" << control::json_quote(config_.file)
          << ",\"roles\":{\"translator\":" << (config_.translator ? "true" : "false")
          << ",\"router\":" << (config_.router ? "true" : "false")
          << ",\"host\":" << (config_.host ? "true" : "false")
          << "},\"engine\":" << control::json_quote(to_string(engine_))
          << ",\"engine_reason\":" << control::json_quote(engine_reason_);
        if (kernel_) {
            o << ",\"kernel\":{";
            if (kernel_info)
                o << "\"configured\":" << (kernel_info->configured ? "true" : "false")
                  << ",\"config_generation\":" << kernel_info->config_generation.value_or(0)
                  << ",\"expected_generation\":" << kernel_generation_
                  << ",\"flows\":" << kernel_info->flow_count;
            else
                o << "\"error\":" << control::json_quote(kernel_error);
            if (route_pusher_) {
                // The module forwards the router's SYNs: its table, as it
                // reports it and as svxlatd last pushed it.
                auto optional = [](const auto& v) {
                    return v ? std::to_string(*v) : std::string("null");
                };
                o << ",\"router\":{\"routes\":"
                  << optional(kernel_info ? kernel_info->route_count : std::nullopt)
                  << ",\"routes_generation\":"
                  << optional(kernel_info ? kernel_info->routes_generation : std::nullopt)
                  << ",\"pushed_generation\":" << optional(route_pusher_->pushed_generation())
                  << ",\"pushed_routes\":" << route_pusher_->pushed_routes()
                  << ",\"push_failures\":" << route_pusher_->failures()
                  << ",\"push_failing\":" << (route_pusher_->failing() ? "true" : "false");
                if (route_pusher_->failing())
                    o << ",\"push_error\":" << control::json_quote(route_pusher_->last_error());
                o << "}";
            }
            o << "}";
        }
        o << ",\"steering\":"
          << control::json_quote(steering_ ? steer::to_string(steering_->backend()) : "none")
          << ",\"queues\":" << threads_.size() << ",\"flows\":" << flows << ",\"uptime_ms\":" << up
          << ",\"reloads\":" << reloads_ << ",\"reload_failures\":" << reload_failures_ << "}\n";
        return o.str();
    }
    o << "config:   " << config_.file << "\n"
      << "roles:    " << (config_.translator ? "translator " : "")
      << (config_.router ? "router " : "") << (config_.host ? "host-agent" : "") << "\n"
      << "engine:   ";
    if (engine_ == PacketEngine::kernel) {
        o << "kernel (svxlat.ko";
        if (kernel_info)
            o << ", configuration generation " << kernel_info->config_generation.value_or(0)
              << (kernel_info->configured &&
                          kernel_info->config_generation.value_or(0) == kernel_generation_
                      ? ""
                      : " (expected " + std::to_string(kernel_generation_) + ")")
              << ", " << kernel_info->flow_count << " flow(s)";
        else
            o << ": " << kernel_error;
        o << ")";
        if (!threads_.empty())
            o << "; " << (route_pusher_ ? "router registrations" : "service router")
              << " over nfqueue, " << threads_.size() << " queue(s) from "
              << config_.engine.queue_num << ", steering "
              << (steering_ ? steer::to_string(steering_->backend()) : "none");
    } else {
        o << "nfqueue, " << threads_.size() << " queue(s) from " << config_.engine.queue_num
          << ", steering " << (steering_ ? steer::to_string(steering_->backend()) : "none");
    }
    o << "\n"
      << "          " << engine_reason_ << "\n"
      << "flows:    " << flows << "\n"
      << "uptime:   " << ms_text(up) << "\n"
      << "reloads:  " << reloads_ << " (" << reload_failures_ << " failed)\n";
    if (route_pusher_) {
        o << "router:   in svxlat.ko: ";
        if (kernel_info && kernel_info->route_count)
            o << *kernel_info->route_count << " route(s), table generation "
              << (kernel_info->routes_generation ? std::to_string(*kernel_info->routes_generation)
                                                 : std::string("none"));
        else
            o << "table unknown";
        const auto pushed = route_pusher_->pushed_generation();
        o << " (pushed " << (pushed ? std::to_string(*pushed) : std::string("none")) << "), "
          << route_pusher_->failures() << " failed push(es)";
        if (route_pusher_->failing())
            o << ", failing: " << route_pusher_->last_error();
        o << "\n";
    }
    if (registrar_)
        o << "host agent: " << registrar_->registered() << " service(s) registered, "
          << registrar_->sent() << " registration messages sent\n";
    if (relay_)
        o << "relay:    " << relay_->listeners().size() << " row(s) listening, "
          << relay_->connection_count() << " connection(s), " << relay_->worker_count()
          << " worker(s), " << relay_->aliases().size() << " alias(es)\n";
    return o.str();
}

std::string Daemon::render_table(bool json) const {
    const auto& s = role_settings_;
    std::ostringstream o;
    if (!s || !s->translator)
        return json ? "[]\n" : "no translator role\n";
    if (json) {
        o << "[";
        bool first = true;
        for (const auto& row : s->translator->table->rows) {
            o << (first ? "" : ",")
              << "{\"address\":" << control::json_quote(config::format_address(row.address))
              << ",\"port\":" << row.port
              << ",\"service\":" << control::json_quote(config::format_service_id(row.service))
              << ",\"mode\":" << control::json_quote(config::to_string(row.mode))
              << ",\"tcp_options\":" << control::json_quote(config::to_string(row.tcp_options))
              << "}";
            first = false;
        }
        o << "]\n";
        return o.str();
    }
    o << config::format_table(*s->translator->table);
    return o.str();
}

std::string Daemon::render_services(bool json) const {
    std::ostringstream o;
    auto now = router::Clock::now();
    auto dump = [&](const char* title, const std::vector<router::EntryInfo>& entries, bool& first) {
        for (const auto& e : entries) {
            for (const auto& t : e.targets) {
                auto remaining =
                    t.remaining
                        ? std::chrono::duration_cast<std::chrono::milliseconds>(*t.remaining)
                              .count()
                        : -1;
                if (json) {
                    o << (first ? "" : ",") << "{\"table\":" << control::json_quote(title)
                      << ",\"prefix\":" << control::json_quote(sid_to_string(e.prefix))
                      << ",\"bits\":" << e.bits
                      << ",\"target\":" << control::json_quote(config::format_address(t.address))
                      << ",\"priority\":" << t.priority << ",\"weight\":" << t.weight
                      << ",\"origin\":" << control::json_quote(router::to_string(t.origin))
                      << ",\"remaining_ms\":" << remaining << ",\"chosen\":" << t.chosen << "}";
                } else {
                    o << title << "  " << sid_to_string(e.prefix) << "/" << e.bits << "  -> "
                      << config::format_address(t.address) << "  prio " << t.priority << " weight "
                      << t.weight << "  " << router::to_string(t.origin)
                      << (remaining >= 0 ? "  expires in " + ms_text(static_cast<std::uint64_t>(
                                                                 std::max<long long>(0, remaining)))
                                         : std::string())
                      << "  chosen " << t.chosen << "\n";
                }
                first = false;
            }
        }
    };
    bool first = true;
    if (json)
        o << "[";
    // Under the kernel engine the module resolves the SYNs (and a worker any
    // that reach it): "chosen" is the sum, whichever engine chose.
    auto with_kernel_counts = [&](const router::ServiceTable& table, bool in_kernel,
                                  std::uint8_t kernel_table) {
        auto entries = table.snapshot(now);
        if (in_kernel && kernel_ && kernel_configured_) {
            try {
                add_kernel_chosen(entries, kernel_->routes(kernel_table));
            } catch (const kernel_engine::KernelError& e) {
                log::warning("svxlat services: ", e.what());
                if (!json)
                    o << "# svxlat.ko's chosen counts unavailable: " << e.what() << "\n";
            }
        }
        return entries;
    };
    if (router_services_)
        dump("router",
             with_kernel_counts(*router_services_, route_pusher_ != nullptr, SVX_NL_ROUTES_ROUTER),
             first);
    if (translator_services_)
        dump("translator-static",
             with_kernel_counts(*translator_services_, engine_ == PacketEngine::kernel,
                                SVX_NL_ROUTES_XLT_STATIC),
             first);
    if (config_.host) {
        for (const auto& svc : config_.host->services) {
            if (json)
                o << (first ? "" : ",")
                  << "{\"table\":\"host\",\"prefix\":" << control::json_quote(sid_to_string(svc.id))
                  << ",\"bits\":" << svc.prefix_bits << ",\"port\":" << svc.port << "}";
            else
                o << "host  " << sid_to_string(svc.id) << "/" << svc.prefix_bits << "  -> port "
                  << svc.port << "\n";
            first = false;
        }
    }
    if (json)
        o << "]\n";
    else if (first)
        o << "no services\n";
    return o.str();
}

std::string Daemon::render_flows(bool json) const {
    std::ostringstream o;
    std::uint64_t now = monotonic_ms();
    bool first = true;
    if (json)
        o << "[";
    else
        o << "role        state        tcp-remote             tcp-self               "
             "sal-peer         flows (local>peer)     age      in-tcp/in-sal bytes\n";
    // The kernel engine's flows (worker 0: the module has no workers), then
    // the NFQUEUE workers'.
    std::vector<engine::FlowInfo> flows;
    if (kernel_) {
        try {
            for (const auto& f : kernel_->flows())
                flows.push_back({f, 0});
        } catch (const kernel_engine::KernelError& e) {
            log::warning("svxlat flows: ", e.what());
            if (!json)
                o << "# kernel engine flows unavailable: " << e.what() << "\n";
        }
    }
    for (const auto& t : threads_) {
        auto worker_flows = t->worker().snapshot_flows();
        flows.insert(flows.end(), worker_flows.begin(), worker_flows.end());
    }
    for (const auto& info : flows) {
        const svx_flow& f = info.flow;
        auto addr = [](const std::uint8_t* a) {
            return ipv4_to_string(std::span<const std::uint8_t, 4>(a, 4));
        };
        std::string role = f.role == SVX_ROLE_TRANSLATOR ? "translator" : "host";
        std::string state = svx_flow_state_name(static_cast<svx_flow_state>(f.state));
        std::uint64_t age = now > f.created_ms ? now - f.created_ms : 0;
        if (json) {
            o << (first ? "" : ",") << "{\"role\":\"" << role << "\",\"state\":\"" << state
              << "\",\"worker\":" << info.worker << ",\"tcp_remote\":\"" << addr(f.tcp_remote_addr)
              << ":" << f.tcp_remote_port << "\",\"tcp_self\":\"" << addr(f.tcp_self_addr) << ":"
              << f.tcp_self_port << "\",\"sal_local\":\"" << addr(f.sal_local_addr)
              << "\",\"sal_peer\":\"" << addr(f.sal_peer_addr)
              << "\",\"local_flow\":" << f.local_flow << ",\"peer_flow\":" << f.peer_flow
              << ",\"service\":\"" << sid_to_string(f.service) << "\",\"age_ms\":" << age
              << ",\"idle_ms\":" << (now > f.last_ms ? now - f.last_ms : 0)
              << ",\"bytes_from_tcp\":" << f.stats.bytes_in[0]
              << ",\"bytes_from_sal\":" << f.stats.bytes_in[1]
              << ",\"packets_from_tcp\":" << f.stats.packets_in[0]
              << ",\"packets_from_sal\":" << f.stats.packets_in[1] << "}";
        } else {
            char line[512];
            std::snprintf(
                line, sizeof(line), "%-11s %-12s %-22s %-22s %-16s %-22s %-8s %llu/%llu\n",
                role.c_str(), state.c_str(),
                (addr(f.tcp_remote_addr) + ":" + std::to_string(f.tcp_remote_port)).c_str(),
                (addr(f.tcp_self_addr) + ":" + std::to_string(f.tcp_self_port)).c_str(),
                addr(f.sal_peer_addr).c_str(),
                (std::to_string(f.local_flow) + ">" + std::to_string(f.peer_flow)).c_str(),
                ms_text(age).c_str(), static_cast<unsigned long long>(f.stats.bytes_in[0]),
                static_cast<unsigned long long>(f.stats.bytes_in[1]));
            o << line;
        }
        first = false;
    }
    // Relay-mode connections: client, row, the Serval leg's target.
    if (relay_) {
        for (const auto& c : relay_->connections()) {
            std::string client = relay::format_endpoint(c.client);
            std::string row = relay::format_endpoint(c.row);
            std::string target = relay::format_endpoint(c.target);
            if (json) {
                o << (first ? "" : ",") << "{\"role\":\"relay\",\"state\":\""
                  << relay::to_string(c.state) << "\",\"worker\":" << c.worker
                  << ",\"tcp_remote\":\"" << client << "\",\"tcp_self\":\"" << row
                  << "\",\"target\":\"" << target << "\",\"service\":\"" << sid_to_string(c.service)
                  << "\",\"age_ms\":" << c.age.count() << ",\"idle_ms\":" << c.idle.count()
                  << ",\"bytes_to_service\":" << c.bytes_to_service
                  << ",\"bytes_to_client\":" << c.bytes_to_client
                  << ",\"pipe_to_service\":" << c.pipe_to_service
                  << ",\"pipe_to_client\":" << c.pipe_to_client
                  << ",\"proxy_v2\":" << (c.proxy_v2 ? "true" : "false") << "}";
            } else {
                char line[512];
                std::snprintf(line, sizeof(line),
                              "%-11s %-12s %-22s %-22s %-16s %-22s %-8s %llu/%llu\n", "relay",
                              std::string(relay::to_string(c.state)).c_str(), client.c_str(),
                              row.c_str(), target.c_str(),
                              ("pipes " + std::to_string(c.pipe_to_service) + "/" +
                               std::to_string(c.pipe_to_client))
                                  .c_str(),
                              ms_text(static_cast<std::uint64_t>(c.age.count())).c_str(),
                              static_cast<unsigned long long>(c.bytes_to_service),
                              static_cast<unsigned long long>(c.bytes_to_client));
                o << line;
            }
            first = false;
        }
    }
    if (json)
        o << "]\n";
    return o.str();
}

std::string Daemon::render_counters(bool json) const {
    // Sum over workers/queues; every counter with its explanation.
    struct Row {
        std::string group, name, desc;
        std::uint64_t value;
    };
    std::vector<Row> rows;
    // The kernel engine counts the same ids (svx_stat, svx_err); a module
    // with more ids than this build names has them left out.
    kernel_engine::KernelStats kernel_stats;
    if (kernel_) {
        try {
            kernel_stats = kernel_->stats();
        } catch (const kernel_engine::KernelError& e) {
            log::warning("svxlat counters: ", e.what());
        }
    }
    for (unsigned e = 0; e < static_cast<unsigned>(engine::Event::count_); ++e) {
        auto ev = static_cast<engine::Event>(e);
        std::uint64_t v = kernel_stats.stat(e);
        for (const auto& t : threads_)
            v += t->worker().counters().event(ev);
        rows.push_back({"engine", std::string(engine::event_name(ev)),
                        std::string(engine::event_desc(ev)), v});
    }
    for (int code = SVX_OK + 1; code < SVX_E__COUNT; ++code) {
        auto err = static_cast<svx_err>(code);
        std::uint64_t v = kernel_stats.drop(static_cast<unsigned>(code));
        for (const auto& t : threads_)
            v += t->worker().counters().drops(err);
        rows.push_back({"drop", svx_err_name(err), svx_err_desc(err), v});
    }
    for (std::size_t i = 0; i < nfq::kQueueCounterInfo.size(); ++i) {
        std::uint64_t v = 0;
        for (const auto& t : threads_)
            v += t->queue().counters()[i];
        rows.push_back({"queue", std::string(nfq::kQueueCounterInfo[i].name),
                        std::string(nfq::kQueueCounterInfo[i].description), v});
    }
    std::uint64_t kernel[4] = {};
    for (const auto& t : threads_)
        if (auto k = t->queue().kernel_stats()) {
            kernel[0] += k->queue_total;
            kernel[1] += k->queue_dropped;
            kernel[2] += k->user_dropped;
            kernel[3] = std::max<std::uint64_t>(kernel[3], k->id_sequence);
        }
    for (std::size_t i = 0; i < nfq::kKernelQueueCounterInfo.size(); ++i)
        rows.push_back({"kernel-queue", std::string(nfq::kKernelQueueCounterInfo[i].name),
                        std::string(nfq::kKernelQueueCounterInfo[i].description), kernel[i]});
    for (std::size_t i = 0; i < nfq::kInjectorCounterInfo.size(); ++i) {
        std::uint64_t v = 0;
        for (const auto& t : threads_)
            v += t->injector().counters()[i];
        rows.push_back({"inject", std::string(nfq::kInjectorCounterInfo[i].name),
                        std::string(nfq::kInjectorCounterInfo[i].description), v});
    }
    if (relay_) {
        auto values = relay_->counters();
        for (std::size_t i = 0; i < relay::kCounterInfo.size(); ++i)
            rows.push_back({"relay", std::string(relay::kCounterInfo[i].name),
                            std::string(relay::kCounterInfo[i].description), values[i]});
    }
    std::ostringstream o;
    if (json) {
        o << "[";
        for (std::size_t i = 0; i < rows.size(); ++i)
            o << (i ? "," : "") << "{\"group\":" << control::json_quote(rows[i].group)
              << ",\"name\":" << control::json_quote(rows[i].name) << ",\"value\":" << rows[i].value
              << ",\"description\":" << control::json_quote(rows[i].desc) << "}";
        o << "]\n";
        return o.str();
    }
    for (const auto& r : rows) {
        char line[512];
        std::snprintf(line, sizeof(line), "%-13s %-22s %14llu  %s\n", r.group.c_str(),
                      r.name.c_str(), static_cast<unsigned long long>(r.value), r.desc.c_str());
        o << line;
    }
    return o.str();
}

} // namespace svxlat::daemon
