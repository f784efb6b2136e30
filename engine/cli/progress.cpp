// The progress bar of accuracy, evaluate and batch: done/total, rate and time left, redrawn in
// place on stderr.
#include <chrono>
#include <cstdio>

#include "cli.h"

namespace gradcam::cli {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Progress::update(size_t done, const std::string& extra) const {
  if (quiet) return;
  double el = (now_ms() - start) / 1000.0;
  double rate = el > 0 ? double(done) / el : 0;
  int width = 30, fill = total ? int(double(done) / double(total) * width) : width;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu %.0f img/s ETA %.0fs %s", std::string(size_t(fill), '#').c_str(),
               std::string(size_t(width - fill), '.').c_str(), done, total, rate,
               rate > 0 ? double(total - done) / rate : 0.0, extra.c_str());
  if (done == total) std::fprintf(stderr, "\n");
}

}  // namespace gradcam::cli
