// gradcam: the command-line front end of the engine (native, and the same program as wasm under
// node). Each command is one file (info.cpp, explain.cpp, accuracy.cpp, ...); this one finds the
// command by name in their table and writes the usage text from it. Errors are one line on stderr
// naming the file and the problem; exit 2 for a usage error, 1 for a file that cannot be used.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"

using namespace gradcam;
using namespace gradcam::cli;

namespace {

// Every command, in the order the usage text lists them; what a command takes beyond its own
// options is added here: every command that reads a model takes the model options (import-keras
// converts a Keras file, so it takes --model alone).
const std::vector<Command>& commands() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t{info_command(),         explain_command(),      accuracy_command(),
                           evaluate_command(),     batch_command(),        merge_index_command(),
                           import_keras_command(), init_model_command(),   bench_command()};
    for (Command& c : t) {
      auto& v = c.options.values;
      if (std::string(c.name) == "import-keras" || std::find(v.begin(), v.end(), "model") == v.end()) continue;
      for (const std::string& o : kModelOptions)
        if (std::find(v.begin(), v.end(), o) == v.end()) v.push_back(o);
    }
    return t;
  }();
  return table;
}

const char* kModelOptionsUsage = R"(
model options (every command with --model): F is a model file (.safetensors), a Keras file
(.h5, .keras) or an ONNX file (.onnx, as PyTorch exports it), told apart by their bytes
  --mean R,G,B --std R,G,B   normalise as torchvision does: x = (pixel/255 - mean) / std
  --labels FILE              class names, one per line (ONNX default: 0, 1, ...)
  --size N                   input height and width for a model whose size is dynamic
  --threads N                worker threads for the computation (default: the machine's cores;
                             1 is one thread); the results are the same for any N
  --arch FILE                a Keras weights file's architecture: a Keras config (Keras 3's
                             config.json, Keras 2's model.to_json()) or this project's JSON
)";

// `text`'s lines after the first, each indented by `indent` spaces.
std::string indented(const std::string& text, size_t indent) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out.append(indent, ' ');
  }
  return out;
}

// The usage text: each command's synopsis and help, the model options, and the methods as the
// method table lists them.
std::string usage() {
  std::string text = "usage: gradcam COMMAND [options]\n\ncommands:\n";
  for (const Command& c : commands()) {
    std::string name = c.name;
    if (c.alias) name += std::string(" (or ") + c.alias + ")";
    name.resize(std::max<size_t>(name.size(), 8), ' ');
    text += "  " + name + " " + indented(c.synopsis, 11) + "\n";
    text += std::string(13, ' ') + indented(c.help, 13) + "\n";
  }
  text += kModelOptionsUsage;
  std::string line = "\nmethods:";
  for (const MethodDescriptor& d : method_table()) {
    if (line.size() + std::strlen(d.name) + 1 > 96) {
      text += line + "\n";
      line = "        ";
    }
    line += std::string(" ") + d.name;
  }
  return text + line + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(usage().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    const Command* c = nullptr;
    std::string names;
    for (const Command& k : commands()) {
      if (cmd == k.name || (k.alias && cmd == k.alias)) c = &k;
      names += (names.empty() ? "" : ", ") + std::string(k.name);
    }
    if (!c) throw UsageError{"unknown command \"" + cmd + "\" (" + names + ")"};
    // import-keras names its input first, as converters do: `import-keras model.h5 --out F`.
    const bool positional = cmd == "import-keras" && argc > 2 && argv[2][0] != '-';
    Args a = parse_args(cmd, c->options, argc, argv, positional ? 3 : 2);
    if (positional) {
      if (a.has("model")) throw UsageError{"give the Keras file once (as the first argument or as --model)"};
      a.values["model"] = argv[2];
    }
    if (a.has("help")) {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    return c->run(a);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "gradcam %s: %s (gradcam --help for usage)\n", cmd.c_str(), e.message.c_str());
    return 2;
  } catch (const FileError& e) {
    std::fprintf(stderr, "gradcam %s: %s\n", cmd.c_str(), e.message.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gradcam %s: unexpected error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
