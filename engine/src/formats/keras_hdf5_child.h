// Reading a Keras HDF5 file in a child process, so that a crash inside the HDF5 library becomes an
// error. Debian 12's libhdf5 1.10.8 dies with a segmentation fault on some corrupt files
// (tests/fuzz/regressions/keras/hdf5-vlen-global-heap-overlap.h5); Debian 13's 1.14 survives that
// one but needs glibc 2.38, and no library version promises to survive every file. The child runs
// read_keras_hdf5 and sends its result back in the frame below; the parent checks every length as
// it reads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "gradcam/keras.h"

namespace gradcam {

// read_keras_hdf5 in a child process (native builds; elsewhere in this process, where there is no
// HDF5 library to crash). A child that dies, is killed or answers incompletely gives one error:
// "<source>: the HDF5 library failed on this file (killed by signal 11): it is damaged or not a
// Keras file". The child may use `cpu_seconds` of CPU time: some damaged files send the library
// into an endless loop (tests/fuzz/regressions/keras/hdf5-vlen-global-heap-endless-loop.h5, in
// 1.10.8 and 1.14.5 alike), and the kernel ends it (SIGXCPU) where a wall-clock timeout would
// depend on the machine's load.
inline constexpr unsigned kChildCpuSeconds = 60;  // a 1 GiB file reads in seconds
Result<KerasFile> read_keras_hdf5_isolated(const uint8_t* bytes, size_t size, const std::string& source,
                                           unsigned cpu_seconds = kChildCpuSeconds);

inline constexpr char kHdf5LibraryFailed[] = "the HDF5 library failed on this file";

// The child's answer as bytes: "GCKH", a version, then either the reader's error or the KerasFile
// (config, Keras version, tensors with shapes and F32 values), then "DONE". Integers are the host's
// (the frame never leaves the machine). `write` sends bytes on and says whether it could.
using FrameWriter = std::function<bool(const void* data, size_t size)>;
bool write_keras_read_frame(const Result<KerasFile>& read, const FrameWriter& write);

// The frame back. `read` fills exactly `size` bytes or returns false (the end came first). No
// length is trusted: each is checked against the reader's own limits before anything is
// allocated. nullopt: the frame is incomplete or malformed (the child died while writing it).
using FrameReader = std::function<bool(void* data, size_t size)>;
std::optional<Result<KerasFile>> read_keras_read_frame(const FrameReader& read);

}  // namespace gradcam
