// Which Keras weight fills which parameter of the architecture. Keras names layers automatically
// per class (conv2d, conv2d_1, ...) and keeps counting within a Python session, so a notebook that
// builds the model twice saves conv2d_9..conv2d_17 and dense_3..: names are tried first, then the
// order within each base name. Weight layouts are Keras's own (conv kernel [kh,kw,in,out], dense
// kernel [in,out], batch norm gamma/beta/moving_mean/moving_variance), as in the model file, so
// nothing is transposed.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "gradcam/keras.h"

namespace gradcam {

namespace {

// "conv2d_12" -> "conv2d"; "dense" -> "dense".
std::string base_name(const std::string& name) {
  size_t u = name.find_last_of('_');
  if (u == std::string::npos || u + 1 == name.size()) return name;
  for (size_t i = u + 1; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return name;
  return name.substr(0, u);
}

// "conv2d_9/kernel:0" -> "kernel"; Keras 3's "0" stays "0".
std::string short_weight_name(const std::string& w) {
  std::string s = w.substr(w.find_last_of('/') == std::string::npos ? 0 : w.find_last_of('/') + 1);
  size_t colon = s.find(':');
  return colon == std::string::npos ? s : s.substr(0, colon);
}

// Keras 3 files name a layer by its path ("layers/conv2d_1", a nested model's
// "layers/functional/layers/conv2d"); the seed network's layers are matched by its last part.
std::string layer_name_of_path(const std::string& path) {
  if (path.rfind("layers/", 0) != 0) return path;  // Keras 2: the layer's own name
  return path.substr(path.find_last_of('/') + 1);
}

struct FileLayer {
  std::string name;  // as the architecture would name it
  std::string path;  // as the file does
  std::vector<size_t> tensors;
};

}  // namespace

Result<std::vector<size_t>> match_keras_tensors(const Architecture& arch, const std::vector<KerasTensor>& tensors,
                                                const std::string& source) {
  auto fail = [&](const std::string& m) { return make_error(source + ": " + m); };
  std::vector<FileLayer> file;
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto [it, fresh] = by_name.emplace(layer_name_of_path(tensors[i].layer), file.size());
    if (fresh) file.push_back({it->first, tensors[i].layer, {}});
    else if (file[it->second].path != tensors[i].layer)
      return fail("the file has weights for layer " + it->first + " at both " + file[it->second].path + " and " +
                  tensors[i].layer + " (a model nested in another: give its config with --arch)");
    file[it->second].tensors.push_back(i);
  }

  // The architecture's layers with parameters, grouped by base name in order.
  std::vector<const LayerSpec*> wanted;
  std::map<std::string, std::vector<size_t>> arch_groups, file_groups;
  for (const LayerSpec& l : arch.layers)
    if (l.type == LayerType::conv2d || l.type == LayerType::dense || l.type == LayerType::batch_norm) {
      arch_groups[base_name(l.name)].push_back(wanted.size());
      wanted.push_back(&l);
    }
  for (size_t f = 0; f < file.size(); ++f) file_groups[base_name(file[f].name)].push_back(f);

  // Which file layer each wanted layer takes: by name when the whole group has its names in the
  // file, else by order within the group.
  std::vector<size_t> source_layer(wanted.size());
  std::set<size_t> used;
  for (const auto& [base, members] : arch_groups) {
    bool all_named = true;
    for (size_t w : members) all_named = all_named && by_name.count(wanted[w]->name);
    if (all_named) {
      for (size_t w : members) source_layer[w] = by_name[wanted[w]->name];
    } else {
      const std::vector<size_t>& found = file_groups[base];
      if (found.size() != members.size()) {
        std::string missing;
        for (size_t w : members)
          if (!by_name.count(wanted[w]->name)) missing = wanted[w]->name;
        return fail("layer " + missing + " has no weights of that name in the file, and the file's " +
                    std::to_string(found.size()) + " layer(s) named " + base + "[_N] cannot stand in order for the " +
                    "architecture's " + std::to_string(members.size()) +
                    " (is the file from another network? pass its architecture with --arch)");
      }
      for (size_t k = 0; k < members.size(); ++k) source_layer[members[k]] = found[k];
    }
    for (size_t w : members) used.insert(source_layer[w]);
  }
  for (size_t f = 0; f < file.size(); ++f)
    if (!used.count(f))
      return fail("the file has weights for layer " + file[f].path +
                  " that the architecture has no layer for (is the file from another network? pass its "
                  "architecture with --arch)");

  // Within each layer: by weight name (kernel, bias, gamma, ...), else by order (Keras 3's vars/0..n).
  std::vector<ParamSpec> specs = parameter_specs(arch);
  std::map<std::string, const ParamSpec*> spec_by_name;
  for (const ParamSpec& s : specs) spec_by_name[s.name] = &s;
  std::map<std::string, size_t> chosen;
  for (size_t w = 0; w < wanted.size(); ++w) {
    const LayerSpec& l = *wanted[w];
    const FileLayer& fl = file[source_layer[w]];
    std::vector<std::string> params;
    if (l.type == LayerType::batch_norm) params = {"gamma", "beta", "moving_mean", "moving_variance"};
    else params = {"kernel", "bias"};
    const std::string label = "layer " + l.name + (fl.path != l.name ? " (file: " + fl.path + ")" : "");
    std::map<std::string, size_t> named;
    for (size_t t : fl.tensors) named[short_weight_name(tensors[t].weight)] = t;
    bool all_named = true;
    for (const std::string& p : params) all_named = all_named && named.count(p);
    if (!all_named && fl.tensors.size() != params.size()) {
      std::string found;
      for (size_t t : fl.tensors) found.append(found.empty() ? "" : ", ").append(tensors[t].weight);
      std::string expected;
      for (const std::string& p : params) expected.append(expected.empty() ? "" : ", ").append(p);
      return fail(label + " has weights " + found + "; expected " + expected);
    }
    for (size_t k = 0; k < params.size(); ++k) {
      const size_t t = all_named ? named[params[k]] : fl.tensors[k];
      const ParamSpec& spec = *spec_by_name.at(l.name + "." + params[k]);
      if (tensors[t].shape != spec.shape)
        return fail(label + " " + params[k] + " has shape " + shape_text(tensors[t].shape) + ", expected " +
                    shape_text(spec.shape));
      chosen[spec.name] = t;
    }
  }
  std::vector<size_t> out;
  for (const ParamSpec& s : specs) out.push_back(chosen.at(s.name));
  return out;
}

Result<Model> model_from_keras(const Architecture& arch, const KerasFile& file, const std::string& source) {
  auto match = match_keras_tensors(arch, file.tensors, source);
  if (!match) return make_error(match.error());
  Model model;
  model.arch = arch;
  std::vector<ParamSpec> specs = parameter_specs(arch);
  for (size_t i = 0; i < specs.size(); ++i) {
    const KerasTensor& t = file.tensors[(*match)[i]];
    int64_t count = 1;
    for (int64_t d : t.shape) count *= d;  // bounded: equals a planned shape
    if (int64_t(t.values.size()) != count)
      return make_error(source + ": tensor " + t.layer + "/" + t.weight + " holds " + std::to_string(t.values.size()) +
                        " values, its shape needs " + std::to_string(count));
    for (float v : t.values)
      if (!std::isfinite(v)) return make_error(source + ": tensor " + t.layer + "/" + t.weight + " contains NaN or infinity");
    model.params[specs[i].name] = t.values;
  }
  // A Keras file carries no "trained" flag; one a person brings is taken to be trained.
  model.metadata["trained"] = "true";
  std::string name = source.substr(source.find_last_of('/') == std::string::npos ? 0 : source.find_last_of('/') + 1);
  model.metadata["description"] = "imported from the Keras file " + name;
  if (!file.keras_version.empty()) model.metadata["keras_version"] = file.keras_version;
  return model;
}

bool is_hdf5(const uint8_t* bytes, size_t size) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  return size >= 8 && std::equal(sig, sig + 8, bytes);
}

bool is_zip(const uint8_t* bytes, size_t size) {
  return size >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4;
}

}  // namespace gradcam
