// How many threads the engine computes with: one count for the process, used by the engine's one
// thread pool (engine/src/parallel/thread_pool.h). Answers never depend on it.
#pragma once

namespace gradcam {

// 1 (the default): everything runs on the caller's thread. n < 1 is taken as 1 (front ends check
// what a person typed and say so); a build without threads (wasm without pthreads) stays at 1, and
// a platform that starts fewer threads than asked runs with those. Not from inside a parallel_for.
void set_thread_count(int n);
int thread_count();
// std::thread::hardware_concurrency(), at least 1 (1 in a build without threads).
int default_thread_count();

}  // namespace gradcam
