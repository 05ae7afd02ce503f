#include "vectors.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <stdexcept>

#include <pcap/pcap.h>

namespace svxlat::test {

namespace fs = std::filesystem;

namespace {

constexpr uint16_t kEthertypeIpv4 = 0x0800;
constexpr uint16_t kEthertypeIpv6 = 0x86dd;
constexpr uint16_t kEthertypeVlan = 0x8100;
// Not every libpcap names Linux cooked v2.
constexpr int kDltLinuxSll2 = 276;

struct PcapCloser {
    void operator()(pcap_t* p) const { pcap_close(p); }
};
using PcapHandle = std::unique_ptr<pcap_t, PcapCloser>;

std::ifstream open_text(const fs::path& file) {
    std::ifstream in(file);
    if (!in)
        throw std::runtime_error("cannot open " + file.string());
    return in;
}

// Ethertype and link-header length of a captured frame.
struct LinkHeader {
    uint16_t ethertype;
    size_t length;
};

LinkHeader link_header(int linktype, std::span<const uint8_t> frame, const fs::path& file) {
    auto need = [&](size_t n) {
        if (frame.size() < n)
            throw std::runtime_error(file.string() + ": frame shorter than its link header");
    };
    switch (linktype) {
    case DLT_EN10MB: {
        need(14);
        uint16_t type = svx_get_be16(frame.data() + 12);
        if (type != kEthertypeVlan)
            return {type, 14};
        need(18);
        return {svx_get_be16(frame.data() + 16), 18};
    }
    case DLT_RAW:
        need(1);
        return {frame[0] >> 4 == 6 ? kEthertypeIpv6 : kEthertypeIpv4, 0};
    case DLT_LINUX_SLL:
        need(16);
        return {svx_get_be16(frame.data() + 14), 16};
    case kDltLinuxSll2:
        need(20);
        return {svx_get_be16(frame.data()), 20};
    default:
        throw std::runtime_error(file.string() + ": unsupported link type " +
                                 std::to_string(linktype));
    }
}

} // namespace

fs::path test_data_dir() {
    if (const char* env = std::getenv("SVXLAT_TEST_DATA_DIR"); env && *env)
        return env;
    return SVXLAT_TEST_DATA_DIR;
}

fs::path vectors_dir() {
    return test_data_dir() / "vectors";
}

std::vector<fs::path> reference_pcaps() {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(vectors_dir() / "reference"))
        if (entry.is_regular_file() && entry.path().extension() == ".pcap")
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<PcapFrame> read_pcap(const fs::path& file) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    PcapHandle pcap(pcap_open_offline(file.c_str(), errbuf));
    if (!pcap)
        throw std::runtime_error("pcap_open_offline " + file.string() + ": " + errbuf);
    const int linktype = pcap_datalink(pcap.get());

    std::vector<PcapFrame> frames;
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc;
    while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1) {
        PcapFrame f;
        f.number = frames.size() + 1;
        f.frame.assign(data, data + hdr->caplen);
        f.truncated = hdr->caplen < hdr->len;
        LinkHeader link = link_header(linktype, f.frame, file);
        f.ethertype = link.ethertype;
        f.network.assign(f.frame.begin() + static_cast<std::ptrdiff_t>(link.length), f.frame.end());
        frames.push_back(std::move(f));
    }
    if (rc != PCAP_ERROR_BREAK) // -2 is the end of the file
        throw std::runtime_error("pcap_next_ex " + file.string() + ": " + pcap_geterr(pcap.get()));
    return frames;
}

std::vector<Bytes> read_pcap_ipv4(const fs::path& file) {
    std::vector<Bytes> packets;
    for (PcapFrame& f : read_pcap(file)) {
        const std::string where = file.string() + " frame #" + std::to_string(f.number);
        if (f.ethertype != kEthertypeIpv4 || f.network.size() < SVX_IPV4_HDR_LEN)
            throw std::runtime_error(where + " is not IPv4");
        if (f.truncated)
            throw std::runtime_error(where + " was captured truncated");
        size_t tot_len = svx_get_be16(f.network.data() + 2);
        if (tot_len >= SVX_IPV4_HDR_LEN && tot_len < f.network.size())
            f.network.resize(tot_len);
        packets.push_back(std::move(f.network));
    }
    return packets;
}

std::vector<Bytes> read_annotated_frames(const fs::path& file) {
    std::ifstream in = open_text(file);
    static const std::regex frame_start(R"(^#(\d+)\s)");
    std::vector<Bytes> frames;
    std::string line;
    std::string hex;
    bool in_hex = false;
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, frame_start)) {
            if (std::stoul(m[1]) != frames.size() + 1)
                throw std::runtime_error(file.string() + ": frame numbers out of order at " + line);
            frames.emplace_back();
        } else if (line.starts_with("-- full frame hex")) {
            if (frames.empty())
                throw std::runtime_error(file.string() + ": frame hex before any frame header");
            in_hex = true;
            hex.clear();
        } else if (in_hex && line.starts_with("--")) {
            frames.back() = from_hex(hex);
            in_hex = false;
        } else if (in_hex) {
            hex += line;
        }
    }
    if (in_hex)
        frames.back() = from_hex(hex);
    return frames;
}

std::vector<HandmadeVector> read_handmade_vectors(const fs::path& file) {
    std::ifstream in = open_text(file);
    static const std::regex block_start(R"(^### (V\d+): (.*)$)");
    static const std::regex inline_hex(R"(^(.*): ([0-9a-fA-F]+)\s*$)");
    static const std::regex hex_line(R"(^\s+([0-9a-fA-F]{4})  ((?:[0-9a-fA-F]{2} ?)+)\s*$)");
    std::vector<HandmadeVector> vectors;
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, block_start)) {
            HandmadeVector v;
            v.name = m[1];
            v.title = m[2];
            std::smatch h;
            std::string title = v.title;
            if (std::regex_match(title, h, inline_hex) && h[2].length() % 2 == 0) {
                v.title = h[1];
                v.bytes = from_hex(h[2].str());
            }
            vectors.push_back(std::move(v));
        } else if (!vectors.empty() && std::regex_match(line, m, hex_line)) {
            HandmadeVector& v = vectors.back();
            if (std::stoul(m[1], nullptr, 16) != v.bytes.size())
                throw std::runtime_error(file.string() + ": " + v.name +
                                         " hex offset out of sequence: " + line);
            Bytes row = from_hex(m[2].str());
            v.bytes.insert(v.bytes.end(), row.begin(), row.end());
        }
    }
    return vectors;
}

std::vector<HandmadeVector> read_handmade_vectors() {
    return read_handmade_vectors(vectors_dir() / "handmade-vectors.txt");
}

const HandmadeVector& find_vector(const std::vector<HandmadeVector>& vectors,
                                  std::string_view name) {
    for (const HandmadeVector& v : vectors)
        if (v.name == name)
            return v;
    throw std::out_of_range("no handmade vector " + std::string(name));
}

} // namespace svxlat::test
