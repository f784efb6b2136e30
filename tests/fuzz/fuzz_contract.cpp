// libFuzzer target: the contract's parsers (contract.h, request.h), text in, a value or a message
// out, never a crash, an out-of-range conversion or an unbounded allocation. The first byte picks the
// parser; the rest is its input: a JSON options object, or a key and a value split at the first '='.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gradcam/contract.h"
#include "gradcam/request.h"

namespace {
// A small model for the parsers that resolve names against one (layer, target): the seed network.
const gradcam::Engine& seed_engine() {
  static gradcam::Engine engine(gradcam::random_model(gradcam::seed_architecture(), 1));
  return engine;
}

// A result is either a value or a message a person can act on.
template <class T>
void check(const gradcam::Result<T>& r) {
  if (!r.ok() && r.error().empty()) __builtin_trap();
}
void check(const gradcam::Status& s) {
  if (!s.ok() && s.error().empty()) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t eq = text.find('=');
  const std::string key = text.substr(0, eq), value = eq == std::string::npos ? "" : text.substr(eq + 1);
  switch (data[0] % 8) {
    case 0: check(gradcam::parse_load_options(text)); break;
    case 1: check(gradcam::parse_evaluate_options(text)); break;
    case 2: {
      auto fields = gradcam::option_fields(text);
      check(fields);
      if (fields) check(gradcam::parse_request(seed_engine().model(), *fields));
      break;
    }
    case 3: {
      gradcam::LoadOptions o;
      check(gradcam::set_load_option(o, key, value, "--"));
      check(gradcam::check_load_options(o, "--"));
      break;
    }
    case 4: {
      gradcam::ExplainRequest r;
      check(gradcam::set_request_field(r, seed_engine().model(), key, value));
      break;
    }
    case 5: check(gradcam::read_integer("n", text, -1000000, 1000000)); break;
    case 6: check(gradcam::read_real("x", text, -1, 1)); break;
    case 7: check(gradcam::read_real_list("mean", text)); break;
  }
  return 0;
}
