// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "steer/command.h"

#include "common/unique_fd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>

extern char** environ;

namespace svxlat::steer {

namespace {

bool is_executable(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}


} // namespace

std::string CommandResult::describe(std::string_view program) const {
    std::string text(program);
    if (!started)
        return text + ": could not run (not installed?)";
    if (timed_out)
        return text + ": timed out";
    text += ": exit " + std::to_string(exit_code);
    std::string_view detail = err.empty() ? std::string_view(out) : std::string_view(err);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' '))
        detail.remove_suffix(1);
    if (detail.size() > 2000)
        detail = detail.substr(0, 2000);
    if (!detail.empty())
        text += ": " + std::string(detail);
    return text;
}

std::optional<std::string> find_program(std::string_view name) {
    if (name.find('/') != std::string_view::npos)
        return std::string(name);
    std::string dirs;
    if (const char* path = std::getenv("PATH"))
        dirs = path;
    dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::string_view rest = dirs;
    while (!rest.empty()) {
        const auto colon = rest.find(':');
        std::string_view dir = rest.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
        if (dir.empty())
            continue;
        std::string candidate = std::string(dir) + "/" + std::string(name);
        if (is_executable(candidate))
            return candidate;
    }
    return std::nullopt;
}

CommandResult run_command(const std::vector<std::string>& argv, std::string_view input,
                          std::chrono::milliseconds timeout) {
    CommandResult result;
    if (argv.empty())
        return result;
    const auto program = find_program(argv[0]);
    if (!program)
        return result;

    // stdin is a socket so that writing to a child that already exited
    // gives EPIPE (MSG_NOSIGNAL) instead of SIGPIPE.
    int in_pair[2], out_pipe[2], err_pipe[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) < 0)
        return result;
    UniqueFd in_parent(in_pair[0]), in_child(in_pair[1]);
    if (::pipe2(out_pipe, O_CLOEXEC) < 0)
        return result;
    UniqueFd out_parent(out_pipe[0]), out_child(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) < 0)
        return result;
    UniqueFd err_parent(err_pipe[0]), err_child(err_pipe[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_child.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, out_child.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_child.get(), 2);

    std::vector<char*> args;
    std::string argv0 = *program;
    args.push_back(argv0.data());
    std::vector<std::string> copies(argv.begin() + 1, argv.end());
    for (auto& arg : copies)
        args.push_back(arg.data());
    args.push_back(nullptr);

    pid_t pid = -1;
    const int spawn_error =
        ::posix_spawn(&pid, argv0.c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawn_error != 0)
        return result;
    result.started = true;
    in_child.reset();
    out_child.reset();
    err_child.reset();

    for (int fd : {in_parent.get(), out_parent.get(), err_parent.get()})
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (input.empty())
        in_parent.reset();

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t written = 0;
    bool out_open = true, err_open = true;
    std::array<char, 16384> chunk{};
    while (out_open || err_open || in_parent.get() >= 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL); // the child this call started
            break;
        }
        std::array<pollfd, 3> fds{{{in_parent.get(), POLLOUT, 0},
                                   {out_open ? out_parent.get() : -1, POLLIN, 0},
                                   {err_open ? err_parent.get() : -1, POLLIN, 0}}};
        const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR)
            break;
        if (ready <= 0)
            continue;
        if (in_parent.get() >= 0 && fds[0].revents) {
            const ssize_t n = ::send(in_parent.get(), input.data() + written,
                                     input.size() - written, MSG_NOSIGNAL);
            if (n > 0)
                written += static_cast<std::size_t>(n);
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size())
                in_parent.reset(); // EOF for the child
        }
        auto drain = [&](pollfd& p, int fd, std::string& sink, bool& open) {
            if (!open || !p.revents)
                return;
            const ssize_t n = ::read(fd, chunk.data(), chunk.size());
            if (n > 0)
                sink.append(chunk.data(), static_cast<std::size_t>(n));
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                open = false;
        };
        drain(fds[1], out_parent.get(), result.out, out_open);
        drain(fds[2], err_parent.get(), result.err, err_open);
    }

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!result.timed_out && WIFEXITED(status))
        result.exit_code = WEXITSTATUS(status);
    return result;
}

} // namespace svxlat::steer
