// Logging for the daemons: one line per message on stderr (the journal
// captures it under systemd), with a level the config sets. Arguments are
// streamed: log::info("queue ", n, " ready").
#pragma once

#include <sstream>
#include <string_view>

namespace svxlat::log {

enum class Level { error = 0, warning = 1, info = 2, debug = 3 };

void set_level(Level level);
[[nodiscard]] bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args> void emit(Level level, Args&&... args) {
    if (!enabled(level))
        return;
    std::ostringstream line;
    (line << ... << args);
    write(level, line.str());
}

template <typename... Args> void error(Args&&... args) { emit(Level::error, args...); }
template <typename... Args> void warning(Args&&... args) { emit(Level::warning, args...); }
template <typename... Args> void info(Args&&... args) { emit(Level::info, args...); }
template <typename... Args> void debug(Args&&... args) { emit(Level::debug, args...); }

} // namespace svxlat::log
