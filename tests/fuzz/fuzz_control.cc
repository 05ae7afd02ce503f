// libFuzzer target for the daemon's control-request parser: any bytes give
// a request or an error, and a parsed request formats back to a line that
// parses to the same request.
#include "control/control_protocol.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    auto parsed = svxlat::control::parse_request(line);
    if (!parsed.request) {
        if (parsed.error.empty())
            __builtin_trap(); // a refusal always says why
        return 0;
    }
    auto again = svxlat::control::parse_request(svxlat::control::format_request(*parsed.request));
    if (!again.request || again.request->command != parsed.request->command ||
        again.request->json != parsed.request->json)
        __builtin_trap();
    return 0;
}
