#include "common/pcap_reader.h"

#include <pcap/pcap.h>

#include <span>
#include <stdexcept>

namespace svxlat {
namespace {

constexpr std::uint16_t kEthertypeIpv4 = 0x0800;
constexpr std::uint16_t kEthertypeVlan = 0x8100;

// Returns the IPv4 part of a link-layer frame, or an empty span.
std::span<const std::uint8_t> strip_link_header(int link_type, std::span<const std::uint8_t> frame) {
    auto ethertype_at = [&](std::size_t off) -> std::uint16_t {
        return static_cast<std::uint16_t>(frame[off] << 8 | frame[off + 1]);
    };
    switch (link_type) {
    case DLT_EN10MB: {
        std::size_t off = 12;
        if (frame.size() < off + 2)
            return {};
        if (ethertype_at(off) == kEthertypeVlan) {
            off += 4;
            if (frame.size() < off + 2)
                return {};
        }
        return ethertype_at(off) == kEthertypeIpv4 ? frame.subspan(off + 2)
                                                   : std::span<const std::uint8_t>{};
    }
    case DLT_LINUX_SLL:
        if (frame.size() < 16 || ethertype_at(14) != kEthertypeIpv4)
            return {};
        return frame.subspan(16);
    case DLT_RAW:
    case DLT_IPV4:
        return (!frame.empty() && frame[0] >> 4 == 4) ? frame : std::span<const std::uint8_t>{};
    default:
        return {};
    }
}

} // namespace

void PcapReader::PcapCloser::operator()(pcap* handle) const { pcap_close(handle); }

PcapReader::PcapReader(const std::string& path) : path_(path) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    handle_.reset(pcap_open_offline(path.c_str(), errbuf));
    if (!handle_)
        throw std::runtime_error(path + ": " + errbuf);
    link_type_ = pcap_datalink(handle_.get());
    if (link_type_ != DLT_EN10MB && link_type_ != DLT_LINUX_SLL && link_type_ != DLT_RAW &&
        link_type_ != DLT_IPV4)
        throw std::runtime_error(path + ": unsupported link type " +
                                 std::to_string(link_type_));
}

std::optional<CapturedPacket> PcapReader::next() {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    for (;;) {
        int rc = pcap_next_ex(handle_.get(), &header, &data);
        if (rc == PCAP_ERROR_BREAK)
            return std::nullopt;
        if (rc < 0)
            throw std::runtime_error(path_ + ": " + pcap_geterr(handle_.get()));
        ++frame_index_;
        auto ip = strip_link_header(link_type_, {data, header->caplen});
        if (ip.empty()) {
            ++skipped_;
            continue;
        }
        CapturedPacket packet;
        packet.index = frame_index_;
        packet.timestamp = static_cast<double>(header->ts.tv_sec) +
                           static_cast<double>(header->ts.tv_usec) / 1e6;
        packet.ip.assign(ip.begin(), ip.end());
        return packet;
    }
}

std::vector<CapturedPacket> read_pcap_file(const std::string& path) {
    PcapReader reader(path);
    std::vector<CapturedPacket> packets;
    while (auto packet = reader.next())
        packets.push_back(std::move(*packet));
    return packets;
}

} // namespace svxlat
