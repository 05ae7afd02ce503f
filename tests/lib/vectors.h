// Access to the published test vectors under tests/vectors/: the reference
// captures (read with libpcap), their annotated text dumps, and the handmade
// vectors of docs/serval-protocol.md section 17.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "packet_builder.h"

namespace svxlat::test {

// $SVXLAT_TEST_DATA_DIR when set, else the tests/ directory of the source
// tree this library was built from.
std::filesystem::path test_data_dir();
std::filesystem::path vectors_dir();
// Every vectors/reference/*.pcap, sorted by name.
std::vector<std::filesystem::path> reference_pcaps();

struct PcapFrame {
    size_t number = 0;      // 1-based, as in the .txt annotations ("#1")
    uint16_t ethertype = 0; // of the network-layer packet (0x0800 = IPv4)
    bool truncated = false; // captured fewer bytes than were on the wire
    Bytes frame;            // as captured, link-layer header included
    Bytes network;          // link-layer header stripped
};

// Every frame of a capture. Link types: Ethernet (with one optional 802.1Q
// tag), raw IP, Linux cooked v1 and v2. Throws std::runtime_error on an
// unreadable file or an unsupported link type.
std::vector<PcapFrame> read_pcap(const std::filesystem::path& file);

// The IPv4 packets of a capture, each cut to its IP total length (Ethernet
// pads short frames). Throws if a frame is not IPv4 or is truncated.
std::vector<Bytes> read_pcap_ipv4(const std::filesystem::path& file);

// The "-- full frame hex" blocks of an annotated dump (NAME.txt beside
// NAME.pcap), one entry per "#N" frame in order.
std::vector<Bytes> read_annotated_frames(const std::filesystem::path& file);

struct HandmadeVector {
    std::string name;  // "V1" .. "V11"
    std::string title; // the text after "Vn: "
    Bytes bytes;
};

// Blocks "### Vn: title" followed by "  0000  45 00 ..." lines; a block whose
// title ends in ": <hex>" (V9) carries its bytes on the title line.
std::vector<HandmadeVector> read_handmade_vectors(const std::filesystem::path& file);
std::vector<HandmadeVector> read_handmade_vectors(); // vectors/handmade-vectors.txt

// The vector called name; throws std::out_of_range when there is none.
const HandmadeVector& find_vector(const std::vector<HandmadeVector>& vectors,
                                  std::string_view name);

// Parameters the handmade vectors were made with (section 17).
namespace handmade {
inline constexpr Ipv4Addr client = {192, 168, 1, 10};
inline constexpr Ipv4Addr router = {192, 168, 1, 1};
inline constexpr Ipv4Addr server = {10, 0, 0, 5};
// Translator mapping of port 8080 to 93.184.216.34:80.
inline constexpr std::string_view service_id =
    "00001f900000000000000000000000000000000000000000000000505db8d822";
inline constexpr uint32_t client_flow = 2;
inline constexpr uint32_t server_flow = 7;
inline constexpr uint32_t client_iss = 0x12345678;
inline constexpr uint32_t server_iss = 0x9abcdef0;
inline constexpr uint64_t client_nonce = 0x0102030405060708;
inline constexpr uint64_t server_nonce = 0xa1a2a3a4a5a6a7a8;
inline constexpr uint32_t client_isn = 0x1000;
inline constexpr uint32_t server_isn = 0x2000;
} // namespace handmade

} // namespace svxlat::test
