// read_keras_hdf5 behind a process boundary (see keras_hdf5_child.h for why), and the frame the
// child answers in.
#include "formats/keras_hdf5_child.h"

#include <cstring>

#if GRADCAM_HAVE_HDF5 && !defined(__EMSCRIPTEN__)
#define GRADCAM_HDF5_IN_CHILD 1
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#endif

namespace gradcam {

namespace {

constexpr char kFrameStart[4] = {'G', 'C', 'K', 'H'};
constexpr char kFrameEnd[4] = {'D', 'O', 'N', 'E'};
constexpr uint32_t kFrameVersion = 1;
// Above anything the reader returns: model_config is at most 16 MiB, names far less.
constexpr uint64_t kMaxFrameText = 32u << 20;
constexpr uint64_t kMaxFrameRank = 8;                // describe_dataset's limit
constexpr uint64_t kMaxFrameTensors = 4096u * 4096;  // 4,096 layers of 4,096 weights

bool write_u64(const FrameWriter& write, uint64_t v) { return write(&v, sizeof v); }
bool write_text(const FrameWriter& write, const std::string& s) {
  return write_u64(write, s.size()) && (s.empty() || write(s.data(), s.size()));
}

bool read_u64(const FrameReader& read, uint64_t& v) { return read(&v, sizeof v); }
bool read_text(const FrameReader& read, std::string& s) {
  uint64_t n = 0;
  if (!read_u64(read, n) || n > kMaxFrameText) return false;
  s.resize(size_t(n));
  return n == 0 || read(s.data(), s.size());
}

bool read_tensor(const FrameReader& read, KerasTensor& t) {
  uint64_t rank = 0, count = 0;
  if (!read_text(read, t.layer) || !read_text(read, t.weight) || !read_u64(read, rank) || rank > kMaxFrameRank)
    return false;
  uint64_t elements = 1;
  for (uint64_t i = 0; i < rank; ++i) {
    int64_t d = 0;
    if (!read(&d, sizeof d) || d < 0 || d > ModelLimits::kMaxTensorElements) return false;
    elements *= uint64_t(d);
    if (elements > uint64_t(ModelLimits::kMaxTensorElements)) return false;
    t.shape.push_back(d);
  }
  // The reader sends every tensor with its values, as many as its shape holds.
  if (!read_u64(read, count) || count != elements) return false;
  t.values.resize(size_t(count));
  return count == 0 || read(t.values.data(), t.values.size() * sizeof(float));
}

}  // namespace

bool write_keras_read_frame(const Result<KerasFile>& r, const FrameWriter& write) {
  const uint8_t ok = r.ok() ? 1 : 0;
  if (!write(kFrameStart, sizeof kFrameStart) || !write(&kFrameVersion, sizeof kFrameVersion) || !write(&ok, 1))
    return false;
  if (!r) return write_text(write, r.error()) && write(kFrameEnd, sizeof kFrameEnd);
  if (!write_text(write, r->model_config) || !write_text(write, r->keras_version) || !write_u64(write, r->tensors.size()))
    return false;
  for (const KerasTensor& t : r->tensors) {
    if (!write_text(write, t.layer) || !write_text(write, t.weight) || !write_u64(write, t.shape.size())) return false;
    for (int64_t d : t.shape)
      if (!write(&d, sizeof d)) return false;
    if (!write_u64(write, t.values.size()) ||
        (!t.values.empty() && !write(t.values.data(), t.values.size() * sizeof(float))))
      return false;
  }
  return write(kFrameEnd, sizeof kFrameEnd);
}

std::optional<Result<KerasFile>> read_keras_read_frame(const FrameReader& read) {
  char mark[4];
  uint32_t version = 0;
  uint8_t ok = 0;
  if (!read(mark, sizeof mark) || std::memcmp(mark, kFrameStart, sizeof mark) != 0 || !read(&version, sizeof version) ||
      version != kFrameVersion || !read(&ok, 1) || ok > 1)
    return std::nullopt;
  auto finished = [&] { return read(mark, sizeof mark) && std::memcmp(mark, kFrameEnd, sizeof mark) == 0; };
  if (ok == 0) {
    std::string error;
    if (!read_text(read, error) || !finished()) return std::nullopt;
    return Result<KerasFile>(make_error(std::move(error)));
  }
  KerasFile f;
  uint64_t count = 0;
  if (!read_text(read, f.model_config) || !read_text(read, f.keras_version) || !read_u64(read, count) ||
      count > kMaxFrameTensors)
    return std::nullopt;
  for (uint64_t i = 0; i < count; ++i) {
    f.tensors.emplace_back();
    if (!read_tensor(read, f.tensors.back())) return std::nullopt;
  }
  if (!finished()) return std::nullopt;
  return Result<KerasFile>(std::move(f));
}

#if GRADCAM_HDF5_IN_CHILD

namespace {

[[noreturn]] void run_child(int fd, pid_t parent, const uint8_t* bytes, size_t size, const std::string& source,
                           unsigned cpu_seconds) {
  // A crash must end the child with its signal for the parent to name, not in a handler this
  // process inherited (a sanitizer's report, libFuzzer's crash file, an application's reporter).
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS, SIGXCPU}) ::signal(s, SIG_DFL);
  ::signal(SIGPIPE, SIG_DFL);  // the parent stopped listening: end quietly
  // A parent that dies (killed, or a timeout around it) takes the child with it, loop or not.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  const rlimit cpu{cpu_seconds, cpu_seconds + 1};  // SIGXCPU at the first, SIGKILL at the second
  ::setrlimit(RLIMIT_CPU, &cpu);
  const Result<KerasFile> r = read_keras_hdf5(bytes, size, source);
  const bool sent = write_keras_read_frame(r, [fd](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= size_t(w);
    }
    return true;
  });
  ::_exit(sent ? 0 : 1);  // no atexit handlers: they belong to the parent
}

std::string describe_end(int status, const rusage& usage, unsigned cpu_seconds) {
  // The CPU limit ends the child with SIGXCPU, or SIGKILL at the hard limit if it went on.
  const bool out_of_time = WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU ||
                                                   (WTERMSIG(status) == SIGKILL &&
                                                    usage.ru_utime.tv_sec + usage.ru_stime.tv_sec >= time_t(cpu_seconds)));
  if (out_of_time) return "it ran for " + std::to_string(cpu_seconds) + " s of CPU time without finishing";
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "it ended without a complete answer";
}

}  // namespace

Result<KerasFile> read_keras_hdf5_isolated(const uint8_t* bytes, size_t size, const std::string& source,
                                           unsigned cpu_seconds) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return make_error(source + ": cannot start a process to read the HDF5 file: " + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return make_error(source + ": cannot start a process to read the HDF5 file: " + std::strerror(e));
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(fds[1], parent, bytes, size, source, cpu_seconds);
  }
  ::close(fds[1]);
  const int fd = fds[0];
  std::optional<Result<KerasFile>> answer = read_keras_read_frame([fd](void* data, size_t n) {
    char* p = static_cast<char*>(data);
    while (n > 0) {
      const ssize_t r = ::read(fd, p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r;
      n -= size_t(r);
    }
    return true;
  });
  if (!answer) ::kill(pid, SIGKILL);  // the frame is broken: whatever the child does next is not needed
  ::close(fd);
  int status = 0;
  rusage usage{};
  pid_t waited;
  while ((waited = ::wait4(pid, &status, 0, &usage)) < 0 && errno == EINTR) {
  }
  // wait4 fails only where the application reaps its children itself (SIGCHLD ignored): then the
  // complete frame is the whole answer.
  const bool clean = waited < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (answer && clean) return std::move(*answer);
  const std::string why = waited < 0 ? "it ended without a complete answer" : describe_end(status, usage, cpu_seconds);
  return make_error(source + ": " + kHdf5LibraryFailed + " (" + why + "): it is damaged or not a Keras file");
}

#else  // no HDF5 library here (the wasm engine), or no processes: nothing to isolate

Result<KerasFile> read_keras_hdf5_isolated(const uint8_t* bytes, size_t size, const std::string& source, unsigned) {
  return read_keras_hdf5(bytes, size, source);
}

#endif

}  // namespace gradcam
