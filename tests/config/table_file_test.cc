// load_table_file: the sample tables in data/, unreadable paths, pipes and
// the size bound applied before and while reading.
#include "config/table.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using svxlat::config::load_table_file;
using svxlat::config::TableLimits;
using svxlat::config::TableLoadResult;

std::string data_path(const std::string& name) {
    return std::string(SVXLAT_TEST_DATA_DIR) + "/config/data/" + name;
}

std::vector<std::string> messages(const TableLoadResult& result) {
    std::vector<std::string> out;
    for (const auto& diagnostic : result.diagnostics)
        out.push_back(diagnostic.to_string());
    return out;
}

// A file in a fresh temporary directory, removed with it.
class TemporaryFile {
public:
    explicit TemporaryFile(const std::string& contents) {
        std::string pattern = (std::filesystem::temp_directory_path() / "svxlat-table-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        directory_ = pattern;
        path_ = (directory_ / "table.conf").string();
        std::ofstream(path_, std::ios::binary) << contents;
    }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
    ~TemporaryFile() {
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
    const std::string& path() const { return path_; }
    std::string directory() const { return directory_.string(); }

private:
    std::filesystem::path directory_;
    std::string path_;
};

// Both ends of a pipe, closed on destruction.
class Pipe {
public:
    Pipe() {
        if (::pipe(fds_) != 0)
            throw std::runtime_error("pipe failed");
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        close_write();
        ::close(fds_[0]);
    }
    void write_all(const std::string& text) {
        ASSERT_EQ(::write(fds_[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    void close_write() {
        if (fds_[1] >= 0)
            ::close(fds_[1]);
        fds_[1] = -1;
    }
    std::string read_path() const { return "/dev/fd/" + std::to_string(fds_[0]); }

private:
    int fds_[2] = {-1, -1};
};

TEST(TableFile, Figure1SampleLoads) {
    auto result = load_table_file(data_path("figure1.conf"));
    EXPECT_TRUE(result.readable());
    EXPECT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    EXPECT_EQ(result.table.rows.size(), 3u);
    EXPECT_EQ(result.file, data_path("figure1.conf"));
    ASSERT_NE(result.table.find({128, 112, 0, 3}, 8080), nullptr);
    EXPECT_EQ(result.table.find({128, 112, 0, 3}, 8080)->service.b[0], 0x30);
}

TEST(TableFile, SampleWithMistakesReportsEachOne) {
    const std::string path = data_path("table.conf");
    auto result = load_table_file(path);
    EXPECT_TRUE(result.readable());
    EXPECT_TRUE(result.usable());
    EXPECT_TRUE(result.has_errors());
    EXPECT_EQ(messages(result),
              (std::vector<std::string>{
                  path + ":7: address: '300.1.1.1' is not an IPv4 address",
                  path + ":9: port: '70000' out of range 1..65535",
                  path + ":12: service-ID: invalid character in service ID (hex digits only)",
                  path + ":14: row: duplicate (10.0.0.1, 80) with a different service ID (first "
                         "at line 3)",
                  path + ":15: row: expected 3 fields 'IP-address port service-ID', got 2",
                  path + ":16: warning: row: duplicate of the row at line 4; kept once",
              }));
    EXPECT_EQ(result.table.rows.size(), 6u);
}

TEST(TableFile, EmptyAndAllBadFilesAreNotUsable) {
    auto empty = load_table_file(data_path("empty.conf"));
    EXPECT_TRUE(empty.readable());
    EXPECT_FALSE(empty.usable());
    EXPECT_EQ(messages(empty), std::vector<std::string>{data_path("empty.conf") +
                                                        ": no valid row; the table is unusable"});

    auto bad = load_table_file(data_path("no-valid-row.conf"));
    EXPECT_TRUE(bad.readable());
    EXPECT_FALSE(bad.usable());
    EXPECT_EQ(bad.error_count(), 3u);
}

TEST(TableFile, MissingFileIsUnreadable) {
    TemporaryFile existing("");
    const std::string missing = existing.directory() + "/no-such-table.conf";
    auto result = load_table_file(missing);
    EXPECT_FALSE(result.readable());
    EXPECT_FALSE(result.usable());
    EXPECT_TRUE(result.has_errors());
    EXPECT_EQ(messages(result),
              std::vector<std::string>{missing + ": cannot open: No such file or directory"});
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_EQ(result.diagnostics[0].line, 0u);
}

TEST(TableFile, DirectoryIsUnreadable) {
    TemporaryFile file("");
    auto result = load_table_file(file.directory());
    EXPECT_FALSE(result.readable());
    EXPECT_EQ(messages(result),
              std::vector<std::string>{file.directory() + ": cannot read: Is a directory"});
}

TEST(TableFile, CrlfFileOnDisk) {
    TemporaryFile file("IP address\tPort\tService ID\r\n128.112.0.1\t80\t1\r\n"
                       "128.112.0.2\t80\t2 mode=relay\r\n");
    auto result = load_table_file(file.path());
    EXPECT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    EXPECT_EQ(result.table.rows.size(), 2u);
}

TEST(TableFile, OversizedRegularFileIsRefusedBeforeReading) {
    TableLimits limits;
    limits.max_file_bytes = 28;
    TemporaryFile fits("10.0.0.1 80 1\n10.0.0.2 80 1\n"); // 28 bytes
    auto ok = load_table_file(fits.path(), limits);
    EXPECT_TRUE(ok.diagnostics.empty());
    EXPECT_EQ(ok.table.rows.size(), 2u);

    TemporaryFile too_big("10.0.0.1 80 1\n10.0.0.2 80 1\n\n");
    auto refused = load_table_file(too_big.path(), limits);
    EXPECT_TRUE(refused.readable()) << "too large is a content error (exit 1), not an I/O one";
    EXPECT_FALSE(refused.usable());
    EXPECT_EQ(messages(refused),
              (std::vector<std::string>{too_big.path() +
                                            ": file is larger than 28 bytes; refusing to load it",
                                        too_big.path() + ": no valid row; the table is unusable"}));
}

TEST(TableFile, LargerFileIsReadCompletely) {
    std::string text;
    for (int i = 1; i <= 20000; ++i)
        text += "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + " " +
                std::to_string(1 + i % 60000) + " " + std::to_string(i) + "\n";
    ASSERT_GT(text.size(), 256u * 1024) << "exercise more than one read buffer";
    TemporaryFile file(text);
    auto result = load_table_file(file.path());
    EXPECT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(messages(result));
    ASSERT_EQ(result.table.rows.size(), 20000u);
    EXPECT_EQ(result.table.rows.back().line, 20000u);
}

TEST(TableFile, PipeIsReadUpToTheLimit) {
    Pipe small;
    small.write_all("10.0.0.1 80 1\n");
    small.close_write();
    auto ok = load_table_file(small.read_path());
    EXPECT_TRUE(ok.diagnostics.empty()) << ::testing::PrintToString(messages(ok));
    EXPECT_EQ(ok.table.rows.size(), 1u);

    TableLimits limits;
    limits.max_file_bytes = 20;
    Pipe large;
    large.write_all(std::string(1000, '\n'));
    large.close_write();
    auto refused = load_table_file(large.read_path(), limits);
    EXPECT_TRUE(refused.readable());
    EXPECT_EQ(messages(refused).front(),
              large.read_path() + ": file is larger than 20 bytes; refusing to load it");
}

} // namespace
