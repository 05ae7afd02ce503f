// Shared support of the packet fixtures for the per-flow state machine
// (include/svxlat/core/flow.c) and the engine worker (userspace/engine).
//
// Expected packets are always built here or in the tests with the
// PacketBuilder from fixed values; the only thing taken from the code under
// test is what it draws at random (flow IDs, ISS, nonces, per-flow ports),
// read back from the flow table before the expected packet is built.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <svxlat/flow.h>
#include <svxlat/tcp.h>

#include "engine/worker.h"
#include "packet_builder.h"

namespace svxlat::test {

class KernelRig;

// ----------------------------------------------------------------- topology

// The plain TCP client and the public address:port it connects to.
inline constexpr Ipv4Addr kClient = {192, 0, 2, 10};
inline constexpr uint16_t kClientPort = 40000;
inline constexpr Ipv4Addr kPublic = {198, 51, 100, 80};
inline constexpr uint16_t kPublicPort = 80;
// The Serval side: the translator's own address, the service router, two
// instances of the service (each runs a host agent in the host tests).
inline constexpr Ipv4Addr kTranslatorSal = {10, 77, 0, 1};
inline constexpr Ipv4Addr kRouter = {10, 77, 0, 254};
inline constexpr Ipv4Addr kInstanceA = {10, 77, 0, 2};
inline constexpr Ipv4Addr kInstanceB = {10, 77, 0, 3};
// An address nobody in the fixtures owns.
inline constexpr Ipv4Addr kElsewhere = {10, 77, 9, 9};

inline constexpr std::string_view kServiceText =
    "0000400100000000000000000000000000000000000000000000000000000000";
svx_sid service_id();
// The service router's own ID (registrations are sent to it).
svx_sid router_id();

// The translator's side of the standard flow (values of the A-direct
// reference capture, so that the numbers are recognisable in dumps).
inline constexpr uint32_t kLocalFlow = 0x00010003;
inline constexpr uint32_t kIss = 0x38e1ab66;
inline constexpr uint64_t kNonce = 0xc80ec8b9fdddb8ae;
inline constexpr uint32_t kClientIsn = 0x66fc882c;
// The instance's side (a reference host, or svxlat's host agent).
inline constexpr uint32_t kPeerFlow = 0x00000007;
inline constexpr uint32_t kPeerIss = 0xc9af5b18;
inline constexpr uint64_t kPeerNonce = 0xea05efd327a23370;
inline constexpr uint32_t kServerIsn = 0x1e98bd10;
// Host agent: the local server's port and the per-flow port it sees.
inline constexpr uint16_t kServerPort = 8080;
inline constexpr uint16_t kFlowPort = 20001;

inline constexpr uint8_t kTtl = 64;
svx_flow_cfg default_flow_cfg();

// ------------------------------------------------------------------ outputs

// A packet copied into a heap block of exactly its size, so that a read
// past its end is caught under AddressSanitizer (a std::vector's spare
// capacity would hide it).
class ExactBuffer {
public:
    explicit ExactBuffer(std::span<const uint8_t> bytes);
    const uint8_t* data() const { return bytes_.get(); }
    size_t size() const { return size_; }
    std::span<const uint8_t> span() const { return {bytes_.get(), size_}; }

private:
    std::unique_ptr<uint8_t[]> bytes_;
    size_t size_;
};

// A caller-owned struct svx_emit with its arena (RAII, not copyable: the
// emit points into the arena).
class EmitBuffer {
public:
    explicit EmitBuffer(uint32_t arena_bytes = 512 * 1024, uint16_t max_packets = 256);
    EmitBuffer(const EmitBuffer&) = delete;
    EmitBuffer& operator=(const EmitBuffer&) = delete;

    svx_emit* get() { return &emit_; }
    void clear() { svx_emit_reset(&emit_); }
    std::vector<Bytes> packets() const;
    uint32_t overflow() const { return emit_.overflow; }

private:
    std::vector<uint8_t> arena_;
    std::vector<svx_emit_pkt> slots_;
    svx_emit emit_{};
};

// ------------------------------------------------------- super-packets

// n bytes of a fixed, non-repeating-looking pattern (a payload whose pieces
// are easy to tell apart).
std::string payload_pattern(size_t n);

// The pieces one TCP segment of payload is cut into, max_piece bytes each:
// seq advanced, CWR on the first only, FIN and PSH on the last only (what
// the core's segmentation and TCP's GSO both do). build(seq, flags, piece)
// makes each expected packet.
template <typename BuildPiece>
std::vector<Bytes> expected_pieces(const std::string& payload, size_t max_piece, uint32_t seq,
                                   uint8_t flags, BuildPiece&& build) {
    std::vector<Bytes> out;
    for (size_t off = 0; off < payload.size(); off += max_piece) {
        size_t n = std::min(max_piece, payload.size() - off);
        uint8_t f = flags;
        if (off + n < payload.size())
            f &= static_cast<uint8_t>(~(SVX_TCP_FIN | SVX_TCP_PSH));
        if (off != 0)
            f &= static_cast<uint8_t>(~SVX_TCP_CWR);
        out.push_back(
            build(seq + static_cast<uint32_t>(off), f, std::string_view(payload).substr(off, n)));
    }
    return out;
}

enum class IpId { ignore, compare };

// Byte-for-byte comparison with a hexdump of both on failure. got's IPv4
// header checksum is verified first; with IpId::ignore the identification
// field (arbitrary for DF packets, RFC 6864) is then taken from want and
// the header checksum recomputed, so every other byte, checksums included,
// is compared.
::testing::AssertionResult same_packet(std::span<const uint8_t> got, std::span<const uint8_t> want,
                                       IpId id = IpId::ignore);
// The packets of one call, in order.
::testing::AssertionResult same_packets(const std::vector<Bytes>& got,
                                        const std::vector<Bytes>& want, IpId id = IpId::ignore);

// IPv4 header, SAL header and transport checksums all verify
// (svx_pkt_parse with every VERIFY flag).
::testing::AssertionResult sal_checksums_valid(std::span<const uint8_t> pkt);
// Plain IPv4 + TCP: header checksum and TCP checksum (svx_csum_l4_ipv4 over
// the segment, stored value included, gives 0).
::testing::AssertionResult tcp_checksums_valid(std::span<const uint8_t> pkt);

// Parsed views; throw std::runtime_error when the packet does not parse.
svx_tcp_view tcp_view_of(std::span<const uint8_t> pkt);
svx_pkt_view sal_view_of(std::span<const uint8_t> pkt);

// Fields read back from packets (parsed with the core, for checks that are
// not whole-packet comparisons).
uint8_t ip_protocol(std::span<const uint8_t> pkt);
Ipv4Addr ip_src(std::span<const uint8_t> pkt);
Ipv4Addr ip_dst(std::span<const uint8_t> pkt);

// The flow fields a packet may change. Equal when a dropped packet left the
// flow as it was (time and statistics are not part of it).
struct FlowSnapshot {
    uint8_t state;
    uint16_t flags;
    Ipv4Addr sal_local, sal_peer, sal_new_peer;
    uint32_t local_flow, peer_flow;
    Nonce peer_nonce;
    uint32_t snd_una, snd_nxt, rcv_nxt, peer_iss;
    uint32_t tcp_nxt, sal_nxt, tcp_fin_seq, sal_fin_seq;
    uint8_t ctl_pending, retrans;
    uint32_t ctl_verno;
    uint64_t rto_deadline_ms;
    bool operator==(const FlowSnapshot&) const = default;
};
FlowSnapshot snapshot_of(const svx_flow& flow);
void PrintTo(const FlowSnapshot& s, std::ostream* os);

// ------------------------------------------------- driving the core directly

// One flow, its configuration and an emit buffer; every call starts with an
// empty buffer, so out() holds the packets of the last call only.
class FlowDriver {
public:
    explicit FlowDriver(const svx_flow_cfg& cfg = default_flow_cfg());

    svx_flow flow{};
    svx_flow_cfg cfg;
    uint64_t now_ms = 1000;

    struct TranslatorParams {
        bool strip_options = true;
        uint32_t local_flow = kLocalFlow;
        uint32_t iss = kIss;
        uint64_t nonce = kNonce;
        svx_sid service = service_id();
        Ipv4Addr sal_local = kTranslatorSal;
    };
    // svx_flow_init_translator for this plain TCP SYN.
    void init_translator(const Bytes& client_syn, const TranslatorParams& params);
    void init_translator(const Bytes& client_syn) { init_translator(client_syn, {}); }
    // svx_flow_init_host for this SAL SYN.
    svx_err init_host(const Bytes& sal_syn, uint16_t local_port = kServerPort,
                      uint16_t flow_port = kFlowPort, uint32_t local_flow = kPeerFlow,
                      uint32_t iss = kPeerIss, uint64_t nonce = kPeerNonce);

    svx_result from_tcp(const Bytes& pkt, std::optional<Ipv4Addr> sal_dst = std::nullopt);
    svx_result from_sal(const Bytes& pkt);
    // pkt is a whole IPv4 packet carrying the ICMP message.
    svx_result from_icmp(const Bytes& pkt);
    bool tick(uint64_t at_ms);
    void abort();

    const std::vector<Bytes>& out() const { return out_; }
    FlowSnapshot snapshot() const { return snapshot_of(flow); }

private:
    void collect();
    EmitBuffer emit_;
    std::vector<Bytes> out_;
};

// ------------------------------------------- the standard translator flow

// Inputs and expected outputs of the translator between kClient:kClientPort
// -> kPublic:kPublicPort and instance A (behind kRouter). Sequence numbers
// are absolute.
namespace xlt {

// The client's SYN, with Linux's options (MSS 1460, SACK-permitted,
// timestamps, NOP, window scale 7) unless bare.
Bytes client_syn(bool linux_options = true);
// A client segment after the handshake.
Bytes client_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                     uint16_t window = 502);
// The instance's SYN-ACK as it reaches the translator: from instance A,
// SOURCE [translator, router, instance], MSS 1460 + window scale 7.
PacketBuilder instance_synack_builder(uint32_t ackno = kIss + 1);
Bytes instance_synack(uint32_t ackno = kIss + 1);
// A data segment from the instance (base header only).
Bytes instance_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                       uint16_t window = 2896, Ipv4Addr from = kInstanceA);
// A control-only SAL packet from the instance.
Bytes instance_control(uint8_t flags, uint32_t verno, uint32_t ackno, uint64_t nonce = kPeerNonce,
                       Ipv4Addr from = kInstanceA);

// Expected: the SAL SYN (TCP options as given, MSS already clamped).
Bytes expected_sal_syn(Ipv4Addr to, std::span<const uint8_t> tcp_options, uint16_t window = 64240);
// Expected: the TCP SYN-ACK to the client for instance_synack().
Bytes expected_client_synack();
// Expected: the handshake ACK carrying this client TCP header (no payload).
Bytes expected_handshake_ack(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window = 502,
                             Ipv4Addr to = kInstanceA);
// Expected: a data segment to the instance.
Bytes expected_sal_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                           uint16_t window = 502, Ipv4Addr to = kInstanceA);
// Expected: a segment to the client.
Bytes expected_client_segment(uint32_t seq, uint32_t ack, uint8_t flags,
                              std::string_view payload = {}, uint16_t window = 2896);
// Expected: a control-only SAL packet from the translator.
Bytes expected_control(uint8_t flags, uint32_t verno, uint32_t ackno, Ipv4Addr to = kInstanceA,
                       uint32_t dst_flow = kPeerFlow);
// Expected: the in-window TCP RST|ACK to the client.
Bytes expected_client_rst(uint32_t seq, uint32_t ack);

// A translator flow driven through SYN, SYN-ACK and the client's ACK.
// Afterwards tcp_nxt = kClientIsn + 1 and sal_nxt = kServerIsn + 1.
void establish(FlowDriver& d);

} // namespace xlt

// --------------------------------------------- the standard host-agent flow

// The host agent on instance A (kInstanceA, local server on kServerPort,
// per-flow port kFlowPort, flow kPeerFlow / kPeerIss / kPeerNonce) and a
// Serval client at kTranslatorSal (kLocalFlow / kIss / kNonce) whose SYN
// came through kRouter.
namespace host {

// The SAL SYN as the router forwarded it: SOURCE [client, router], TTL 63;
// without SOURCE when sent straight to the host.
Bytes sal_syn(bool via_router = true);
// The handshake ACK (CONTROL ACK + SERVICE + TCP ACK).
Bytes handshake_ack(uint32_t verno = kIss + 1, uint32_t ackno = kPeerIss + 1,
                    uint64_t nonce = kNonce);
// A segment from the Serval client (base header only).
Bytes client_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                     uint16_t window = 502, Ipv4Addr from = kTranslatorSal);
Bytes client_control(uint8_t flags, uint32_t verno, uint32_t ackno, uint64_t nonce = kNonce,
                     Ipv4Addr from = kTranslatorSal);
// A segment of the local server (kInstanceA:kServerPort -> client:kFlowPort).
Bytes server_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                     uint16_t window = 2896);
// The local server's SYN-ACK: MSS 1460, window scale 7.
Bytes server_synack();

// Expected: the SYN to the local server (client:kFlowPort -> server).
Bytes expected_server_syn();
// Expected: a segment to the local server.
Bytes expected_server_segment(uint32_t seq, uint32_t ack, uint8_t flags,
                              std::string_view payload = {}, uint16_t window = 502);
// Expected: the SAL SYN-ACK for server_synack(), to SOURCE #0 (or the IP
// source without SOURCE).
Bytes expected_sal_synack(bool via_router = true);
// Expected: a segment to the Serval client.
Bytes expected_sal_segment(uint32_t seq, uint32_t ack, uint8_t flags, std::string_view payload = {},
                           uint16_t window = 2896, Ipv4Addr to = kTranslatorSal);
Bytes expected_control(uint8_t flags, uint32_t verno, uint32_t ackno, Ipv4Addr to = kTranslatorSal);
Bytes expected_server_rst(uint32_t seq, uint32_t ack);

// SYN, the server's SYN-ACK and the handshake ACK: established, with
// tcp_nxt = kServerIsn + 1 and sal_nxt = kClientIsn + 1.
void establish(FlowDriver& d);

} // namespace host

// ------------------------------------------------ driving the engine worker

// A Worker with its settings (translator table row kPublic:kPublicPort ->
// service_id(), router kRouter; optionally static services and a host
// agent), its SettingsHolder, and the packets of the last call.
class WorkerRig {
public:
    struct Options {
        bool translator = true;
        // Translator resolution through a static service table with
        // instances A and B (same priority and weight) instead of kRouter.
        bool static_two_targets = false;
        // Host agent at host_address serving service_id() on kServerPort.
        bool host = false;
        Ipv4Addr host_address = kInstanceA;
        // Service router at kRouter (ID router_id()) with an empty table:
        // fill router_table(), then push_routes().
        bool router = false;
        unsigned index = 0;
        unsigned count = 1;
        engine::FlowLimits limits{};
        svx_flow_cfg flow = default_flow_cfg();
    };

    explicit WorkerRig(const Options& options);
    WorkerRig();
    ~WorkerRig();

    // SVXLAT_RIG=kernel: the same fixtures against svxlat.ko (kernel_rig.h)
    // instead of an engine::Worker. What only the user-space worker has
    // (simulated time, shards, static services, worker()) is skipped there.
    static bool kernel_mode();

    // link_broadcast: as if it came in a link-layer broadcast frame (user
    // space only: the kernel rig's TUN device has no link layer).
    engine::Verdict process(const Bytes& pkt, uint64_t now_ms = 1000, bool partial = false,
                            bool link_broadcast = false);
    void tick(uint64_t now_ms);
    void abort_all();

    // The router's table of record (Options::router). The worker reads it
    // directly; the kernel rig needs push_routes() after every change, as
    // svxlatd pushes it to svxlat.ko.
    router::ServiceTable& router_table() { return *router_services_; }
    void push_routes();
    // SYNs the router sent to target for the entry (prefix, bits): the
    // table of record's count, or the module's (GET_ROUTES) in the kernel rig.
    std::uint64_t router_chosen(const svx_sid& prefix, unsigned bits, Ipv4Addr target);

    const std::vector<Bytes>& out() const { return out_; }
    engine::Worker& worker() { return *worker_; }
    // Flows in the table (either rig).
    std::size_t flow_count() const { return flows().size(); }
    const engine::Counters& counters() const;
    std::vector<engine::FlowInfo> flows() const;
    // The one flow whose TCP remote port (translator: client port) is port.
    std::optional<svx_flow> flow_by_tcp_remote_port(uint16_t port) const;
    std::optional<svx_flow> only_flow() const;

private:
    void collect();
    std::shared_ptr<config::Table> table_;
    std::shared_ptr<router::ServiceTable> static_services_;
    std::shared_ptr<router::ServiceTable> router_services_;
    std::unique_ptr<engine::SettingsHolder> holder_;
    std::unique_ptr<engine::Worker> worker_;
    std::unique_ptr<KernelRig> kernel_;
    mutable std::unique_ptr<engine::Counters> kernel_counters_;
    std::vector<Bytes> out_;
};

// First statement of a test that needs what only the user-space worker has.
#define SKIP_IN_KERNEL_RIG(why)                                   \
    do {                                                           \
        if (::svxlat::test::WorkerRig::kernel_mode())              \
            GTEST_SKIP() << "not in the kernel rig: " << (why);    \
    } while (0)

} // namespace svxlat::test

namespace svxlat::engine {
// Verdicts by name in GoogleTest messages (found by argument-dependent lookup).
inline void PrintTo(Verdict verdict, std::ostream* os) {
    *os << (verdict == Verdict::accept ? "accept" : "drop");
}
} // namespace svxlat::engine
