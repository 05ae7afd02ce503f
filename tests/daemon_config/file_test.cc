// SPDX-License-Identifier: GPL-2.0 OR MIT
// load_daemon_config: the example files in data/, relative table paths,
// unreadable and oversized files; format_daemon_config round trips.
#include "test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace svxlat::daemon::test {
namespace {

using namespace std::chrono_literals;

std::string data_path(const std::string& name) {
    return std::string(SVXLAT_TEST_DATA_DIR) + "/daemon_config/data/" + name;
}

// A fresh temporary directory, removed with everything in it.
class TemporaryDirectory {
public:
    TemporaryDirectory() {
        std::string pattern = (std::filesystem::temp_directory_path() / "svxlat-dc-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    TemporaryDirectory(const TemporaryDirectory&) = delete;
    TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
    ~TemporaryDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string write(const std::string& name, const std::string& contents) const {
        auto file = path_ / name;
        std::ofstream(file, std::ios::binary) << contents;
        return file.string();
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// parse(format(config)) formats to the same text: every field survives.
void expect_round_trip(const Config& config) {
    const std::string text = format_daemon_config(config);
    auto again = parse_daemon_config(text, "roundtrip.conf");
    ASSERT_TRUE(again.ok()) << joined(again) << text;
    EXPECT_EQ(format_daemon_config(*again.config), text);
}

TEST(DaemonConfigFile, TranslatorExample) {
    auto result = load_daemon_config(data_path("translator.conf"));
    ASSERT_TRUE(result.ok()) << joined(result);
    const Config& config = *result.config;
    EXPECT_EQ(config.file, data_path("translator.conf"));
    EXPECT_EQ(config.engine.queues, 4u);
    EXPECT_EQ(config.engine.queue_num, 100u);
    EXPECT_EQ(config.engine.rcvbuf_bytes, 32u << 20);
    ASSERT_TRUE(config.translator.has_value());
    EXPECT_FALSE(config.router.has_value());
    EXPECT_FALSE(config.host.has_value());
    // The relative table path now names the file next to the config.
    EXPECT_TRUE(std::filesystem::path(config.translator->table).is_absolute());
    EXPECT_TRUE(
        std::filesystem::equivalent(config.translator->table, data_path("translator-table.conf")));
    EXPECT_EQ(config.translator->services.size(), 3u);
    expect_round_trip(config);
}

TEST(DaemonConfigFile, RouterExample) {
    auto result = load_daemon_config(data_path("router.conf"));
    ASSERT_TRUE(result.ok()) << joined(result);
    ASSERT_TRUE(result.config->router.has_value());
    EXPECT_FALSE(result.config->translator.has_value());
    EXPECT_EQ(result.config->router->services.size(), 2u);
    EXPECT_EQ(result.config->router->services[0].prefix_bits, 0u);
    expect_round_trip(*result.config);
}

TEST(DaemonConfigFile, HostExample) {
    auto result = load_daemon_config(data_path("host.conf"));
    ASSERT_TRUE(result.ok()) << joined(result);
    ASSERT_TRUE(result.config->host.has_value());
    EXPECT_EQ(result.config->host->services.size(), 3u);
    EXPECT_EQ(result.config->engine.control_socket, "/run/svxlat/host.sock");
    expect_round_trip(*result.config);
}

TEST(DaemonConfigFile, CombinedExample) {
    auto result = load_daemon_config(data_path("combined.conf"));
    ASSERT_TRUE(result.ok()) << joined(result);
    const Config& config = *result.config;
    EXPECT_TRUE(config.translator && config.router && config.host);
    EXPECT_EQ(config.engine.max_embryonic, 20000u);
    EXPECT_EQ(config.engine.timeout_established, 7440s);
    EXPECT_EQ(config.engine.log_level, LogLevel::debug);
    EXPECT_TRUE(
        std::filesystem::equivalent(config.translator->table, data_path("translator-table.conf")));
    expect_round_trip(config);
}

TEST(DaemonConfigFile, DefaultsRoundTrip) {
    auto result = parse("[translator]\ntable = t\naddress = 10.0.0.1\nrouter = 10.0.0.2\n"
                        "[router]\naddress = 10.0.0.2\n"
                        "[host]\naddress = 10.0.0.3\nrouter = 10.0.0.2\nservice = 1 80\n");
    ASSERT_TRUE(result.ok()) << joined(result);
    expect_round_trip(*result.config);
    const std::string text = format_daemon_config(*result.config);
    EXPECT_NE(text.find("timeout-established = 124m\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nmark = 0x5e1a0001\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nbroadcast-mark = 0x5e1a0002\n"), std::string::npos) << text;
    EXPECT_NE(text.find("rcvbuf = 16M\n"), std::string::npos) << text;
    EXPECT_NE(text.find("max-embryonic = 65536\n"), std::string::npos) << text;
}

TEST(DaemonConfigFile, RelativeTableNextToALoadedFile) {
    TemporaryDirectory directory;
    std::filesystem::create_directory(directory.path() / "conf");
    const std::string path =
        directory.write("conf/svxlatd.conf", "[translator]\ntable = ../tables/t.conf\n"
                                             "address = 10.0.0.1\nrouter = 10.0.0.2\n");
    auto result = load_daemon_config(path);
    ASSERT_TRUE(result.ok()) << joined(result);
    EXPECT_EQ(result.config->translator->table,
              (directory.path() / "conf" / "../tables/t.conf").string());
}

TEST(DaemonConfigFile, ErrorsNameTheFileAsGiven) {
    TemporaryDirectory directory;
    const std::string path = directory.write("bad.conf", "[router]\naddress = 10.0.0.300\n");
    auto result = load_daemon_config(path);
    EXPECT_EQ(messages(result),
              std::vector<std::string>{
                  path + ":2: address: '10.0.0.300' is not an IPv4 address"});
}

TEST(DaemonConfigFile, MissingFile) {
    TemporaryDirectory directory;
    const std::string path = (directory.path() / "absent.conf").string();
    auto result = load_daemon_config(path);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(messages(result),
              std::vector<std::string>{path + ": cannot open: No such file or directory"});
}

TEST(DaemonConfigFile, DirectoryIsNotAConfig) {
    TemporaryDirectory directory;
    auto result = load_daemon_config(directory.path().string());
    EXPECT_EQ(messages(result), std::vector<std::string>{directory.path().string() +
                                                         ": cannot read: Is a directory"});
}

TEST(DaemonConfigFile, OversizedFile) {
    TemporaryDirectory directory;
    std::string text(kRouterRole);
    text.append(kMaxFileBytes + 1 - text.size(), '\n');
    const std::string path = directory.write("big.conf", text);
    auto result = load_daemon_config(path);
    EXPECT_EQ(messages(result), std::vector<std::string>{path + ": file is larger than 1 MiB"});
    // One byte less is read and parsed.
    text.pop_back();
    EXPECT_TRUE(load_daemon_config(directory.write("fits.conf", text)).ok());
}

TEST(DaemonConfigFile, BrokenReloadGivesErrorsAndNoConfig) {
    // A SIGUSR1 reload replaces the running config only when ok().
    TemporaryDirectory directory;
    const std::string path = directory.write("svxlatd.conf", std::string(kRouterRole));
    ASSERT_TRUE(load_daemon_config(path).ok());
    directory.write("svxlatd.conf", "[router]\naddress = 10.0.0.1\nexpiry = never\n");
    auto reload = load_daemon_config(path);
    EXPECT_FALSE(reload.config.has_value());
    EXPECT_EQ(messages(reload),
              std::vector<std::string>{
                  path + ":3: expiry: 'never' is not a duration (an integer with unit ms, s, m, "
                         "h or d)"});
}

TEST(DaemonConfigFile, DocumentedExamplesParse) {
    // Every ```ini block of docs/daemon-config.md with a role section is a
    // valid file; the [engine]-only one lacks nothing but a role.
    const std::string doc_path = std::string(SVXLAT_TEST_DATA_DIR) + "/../docs/daemon-config.md";
    std::ifstream doc(doc_path);
    ASSERT_TRUE(doc) << doc_path;
    std::vector<std::string> blocks;
    std::string line;
    bool in_block = false;
    while (std::getline(doc, line)) {
        if (!in_block && line == "```ini") {
            in_block = true;
            blocks.emplace_back();
        } else if (in_block && line == "```") {
            in_block = false;
        } else if (in_block) {
            blocks.back() += line + "\n";
        }
    }
    ASSERT_GE(blocks.size(), 6u);
    std::size_t with_role = 0;
    for (const auto& block : blocks) {
        const bool has_role = block.find("[translator]") != std::string::npos ||
                              block.find("[router]") != std::string::npos ||
                              block.find("[host]") != std::string::npos;
        auto result = parse(block);
        if (has_role) {
            ++with_role;
            EXPECT_TRUE(result.ok()) << joined(result) << block;
        } else if (block.find("[engine]") != std::string::npos) {
            EXPECT_EQ(messages(result),
                      std::vector<std::string>{"t.conf: no role section: at least one of "
                                               "[translator], [router], [host] is required"})
                << block;
        }
    }
    EXPECT_EQ(with_role, 4u);
}

} // namespace
} // namespace svxlat::daemon::test
