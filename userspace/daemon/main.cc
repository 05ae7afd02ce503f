// svxlatd: the svxlat daemon. Runs the roles its configuration file enables
// (translator, service router, host agent) in the foreground, logs to
// stderr, reloads on SIGUSR1, and removes its steering rules on SIGTERM.
#include "common/log.h"
#include "daemon/daemon.h"

#include <iostream>
#include <string>
#include <string_view>

namespace {

void usage(std::ostream& out) {
    out << "usage: svxlatd [-c CONFIG] [--check]\n"
           "\n"
           "  -c, --config FILE   configuration file (default /etc/svxlat/svxlatd.conf)\n"
           "      --check         validate the configuration (and the table it names) and exit\n"
           "\n"
           "Signals: SIGUSR1 reloads the configuration and the table; SIGTERM/SIGINT stop.\n";
}

} // namespace

int main(int argc, char** argv) {
    std::string path = "/etc/svxlat/svxlatd.conf";
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (arg == "--check") {
            check_only = true;
        } else if (arg == "-h" || arg == "--help") {
            usage(std::cout);
            return 0;
        } else {
            std::cerr << "svxlatd: unknown argument '" << arg << "'\n";
            usage(std::cerr);
            return 2;
        }
    }
    auto parsed = svxlat::daemon::load_daemon_config(path);
    if (!parsed.ok()) {
        for (const auto& e : parsed.errors)
            std::cerr << e.to_string() << "\n";
        return 2;
    }
    if (check_only) {
        std::cout << path << ": ok\n";
        return 0;
    }
    svxlat::daemon::Daemon daemon(std::move(*parsed.config));
    return daemon.run();
}
