// SPDX-License-Identifier: GPL-2.0 OR MIT
// Helpers shared by the daemon configuration tests.
#ifndef SVXLAT_TESTS_DAEMON_CONFIG_TEST_UTIL_H
#define SVXLAT_TESTS_DAEMON_CONFIG_TEST_UTIL_H

#include "daemon_config/daemon_config.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace svxlat::daemon::test {

// The smallest role section: enough for a file to be valid.
inline constexpr std::string_view kRouterRole = "[router]\naddress = 10.0.0.1\n";

inline ConfigParseResult parse(std::string_view text) {
    return parse_daemon_config(text, "t.conf");
}

inline std::vector<std::string> messages(const ConfigParseResult& result) {
    std::vector<std::string> out;
    for (const auto& error : result.errors)
        out.push_back(error.to_string());
    return out;
}

inline std::string joined(const ConfigParseResult& result) {
    std::string out;
    for (const auto& message : messages(result))
        out += message + "\n";
    return out;
}

// The one error text must produce, as "t.conf:LINE: key: reason"; a
// different number of errors fails the test.
inline std::string only_error(std::string_view text) {
    auto result = parse(text);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.errors.size(), 1u) << joined(result);
    return result.errors.empty() ? std::string("(no error)") : result.errors.front().to_string();
}

// A valid file but for lines, which go to [engine] starting at line 2.
inline std::string engine_file(std::string_view lines) {
    return "[engine]\n" + std::string(lines) + "\n" + std::string(kRouterRole);
}

inline std::string engine_error(std::string_view lines) {
    return only_error(engine_file(lines));
}

// The engine settings of a file that must parse.
inline EngineSettings engine_of(std::string_view lines) {
    auto result = parse(engine_file(lines));
    if (!result.ok()) {
        ADD_FAILURE() << "unexpected errors for '" << lines << "':\n" << joined(result);
        return {};
    }
    return result.config->engine;
}

inline svx_sid sid(std::string_view text) {
    svx_sid id{};
    u16 bits = 0;
    EXPECT_EQ(svx_sid_parse(text.data(), text.size(), &id, &bits), SVX_SID_OK) << text;
    return id;
}

inline bool same_sid(const svx_sid& a, const svx_sid& b) {
    return svx_sid_cmp(&a, &b) == 0;
}

} // namespace svxlat::daemon::test

#endif // SVXLAT_TESTS_DAEMON_CONFIG_TEST_UTIL_H
