// Reads IPv4 packets out of a pcap capture with libpcap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pcap;

namespace svxlat {

struct CapturedPacket {
    std::uint64_t index = 0;         // 1-based frame number in the file
    double timestamp = 0.0;          // seconds since the epoch
    std::vector<std::uint8_t> ip;    // from the IPv4 header on (link header removed)
};

class PcapReader {
public:
    // Throws std::runtime_error naming the file when it cannot be opened or
    // uses a link type without a fixed-size header (Ethernet, raw IP, SLL).
    explicit PcapReader(const std::string& path);

    // The next frame carrying IPv4, or nullopt at the end. Frames of other
    // ethertypes are skipped and counted.
    std::optional<CapturedPacket> next();

    [[nodiscard]] std::uint64_t skipped_frames() const { return skipped_; }

private:
    struct PcapCloser {
        void operator()(pcap* handle) const;
    };
    std::unique_ptr<pcap, PcapCloser> handle_;
    std::string path_;
    int link_type_ = 0;
    std::uint64_t frame_index_ = 0;
    std::uint64_t skipped_ = 0;
};

// All IPv4 packets of a capture file.
std::vector<CapturedPacket> read_pcap_file(const std::string& path);

} // namespace svxlat
