// Which tensor of a Keras file is which weight of which layer. Keras 2 (.h5, legacy
// hdf5_format.py) and TF.js name every weight after its layer ("block1_conv1/kernel:0", nested
// "model_1/block1_conv1/kernel:0"; TF.js "conv_pw_13/kernel") inside the group of the file's
// top-level layer (for a nested model, the nested model's group). Keras 3 (saving_lib.py) stores a
// layer's variables as vars/0, vars/1, ... in the order its build() creates them, under a path of
// class names: the file never says which layer it is, the config's order does.
#include <cmath>
#include <set>

#include "formats/keras_graph.h"

namespace gradcam::keras {

namespace {

// "block1_conv1/kernel:0" -> "block1_conv1/kernel".
std::string without_index(const std::string& w) {
  const size_t colon = w.rfind(':');
  if (colon == std::string::npos || colon + 1 == w.size() || w.find_first_not_of("0123456789", colon + 1) != std::string::npos)
    return w;
  return w.substr(0, colon);
}

// The last part of a weight's name: "model_1/conv/kernel:0" -> "kernel".
std::string short_name(const std::string& w) {
  const std::string s = without_index(w);
  const size_t last = s.rfind('/');
  return last == std::string::npos ? s : s.substr(last + 1);
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// A reader that gives only the group under layers/ ("conv2d_1") means "layers/conv2d_1".
std::string keras3_path(const std::string& layer) { return layer.rfind("layers/", 0) == 0 ? layer : "layers/" + layer; }

std::string tensor_label(const KerasTensor& t) { return t.layer.empty() ? t.weight : t.layer + "/" + t.weight; }

// "conv2d_12" -> "conv2d"; "dense" -> "dense".
std::string automatic_base(const std::string& name) {
  const size_t u = name.find_last_of('_');
  if (u == std::string::npos || u + 1 == name.size() || !all_digits(name.substr(u + 1))) return name;
  return name.substr(0, u);
}

}  // namespace

std::optional<std::vector<KerasTensor>> renumbered_tensors(const std::vector<KerasTensor>& tensors,
                                                           const std::vector<std::string>& layer_names) {
  if (tensors.empty() || all_digits(tensors[0].weight)) return std::nullopt;  // Keras 3 goes by path
  const std::set<std::string> named(layer_names.begin(), layer_names.end());
  std::vector<std::string> groups;  // the file's layers with weights, in file order
  std::set<std::string> seen;
  for (const KerasTensor& t : tensors)
    if (!t.layer.empty() && seen.insert(t.layer).second) groups.push_back(t.layer);
  std::map<std::string, std::vector<std::string>> stray, unfilled;  // by base name, in order
  for (const std::string& g : groups)
    if (!named.count(g)) stray[automatic_base(g)].push_back(g);
  for (const std::string& n : layer_names)
    if (!seen.count(n)) unfilled[automatic_base(n)].push_back(n);
  std::map<std::string, std::string> rename;
  for (const auto& [base, from] : stray) {
    const auto to = unfilled.find(base);
    if (to == unfilled.end() || to->second.size() != from.size()) continue;
    for (size_t k = 0; k < from.size(); ++k) rename[from[k]] = to->second[k];
  }
  if (rename.empty()) return std::nullopt;
  std::vector<KerasTensor> out = tensors;
  for (KerasTensor& t : out) {
    auto r = rename.find(t.layer);
    if (r == rename.end()) continue;
    if (t.weight.rfind(t.layer + "/", 0) == 0) t.weight = r->second + t.weight.substr(t.layer.size());
    t.layer = r->second;
  }
  return out;
}

WeightStore::WeightStore(const std::vector<KerasTensor>& tensors, const std::string& source)
    : tensors_(tensors), source_(source), used_(tensors.size(), 0) {
  by_position_ = !tensors.empty();
  for (const KerasTensor& t : tensors) by_position_ = by_position_ && all_digits(t.weight);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (by_position_) by_path_[keras3_path(tensors[i].layer)][tensors[i].weight] = i;
    else by_short_[short_name(tensors[i].weight)].push_back(i);
  }
}

namespace {
const std::vector<KerasTensor> no_tensors;
}

WeightStore::WeightStore(std::vector<ParamSpec>& wanted) : tensors_(no_tensors), source_("layers"), wanted_(&wanted) {}

WeightStore::WeightStore(const std::map<std::string, std::vector<float>>& params)
    : tensors_(no_tensors), source_("model"), params_(&params) {}

Result<std::vector<float>> WeightStore::take(const std::string& label, const std::string& layer, const std::string& group,
                                             const std::string& path, const char* name, const std::vector<int64_t>& shape) {
  if (wanted_) {
    // Each dimension is a layer attribute or a channel count within the engine's limits, so the
    // product fits; the zeros are bounded as a file's tensor is.
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    if (count > ModelLimits::kMaxTensorElements)
      return make_error(label + name + " " + shape_text(shape) + " would hold " + std::to_string(count) +
                        " values, over the limit of " + std::to_string(ModelLimits::kMaxTensorElements));
    wanted_->push_back({layer + "." + name, shape});
    return std::vector<float>(size_t(count), 0.f);
  }
  if (params_) {
    // The model file's reader checked each tensor's shape and values; a model built in code (the
    // trainer's, the sanity check's randomised copies) is checked here as a file's tensors are.
    const std::string param = layer + "." + name;
    auto found = params_->find(param);
    if (found == params_->end()) return make_error("the model has no parameter " + param);
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    if (int64_t(found->second.size()) != count)
      return make_error(label + "parameter " + param + " holds " + std::to_string(found->second.size()) +
                        " values, its shape " + shape_text(shape) + " needs " + std::to_string(count));
    for (float v : found->second)
      if (!std::isfinite(v)) return make_error(label + "parameter " + param + " contains NaN or infinity");
    return found->second;
  }
  size_t& cursor = cursor_[key(layer, group, path)];
  std::vector<std::vector<float>>& taken = taken_[key(layer, group, path)];
  if (cursor < taken.size()) return taken[cursor++];  // a shared layer's second call

  size_t index = tensors_.size();
  if (by_position_) {
    auto layer_vars = by_path_.find(path);
    const std::string slot = std::to_string(cursor);
    if (layer_vars == by_path_.end() || !layer_vars->second.count(slot))
      return make_error(label + "its " + name + " is missing from the file (expected at " + path + "/vars/" + slot + ")");
    index = layer_vars->second.at(slot);
  } else {
    // The layer's name may hold "/" itself (tf-keras DenseNet's "conv1/conv").
    const std::string suffix = layer + "/" + name;
    auto found = by_short_.find(name);
    std::vector<size_t> in_group;
    if (found != by_short_.end())
      for (size_t i : found->second) {
        const std::string w = without_index(tensors_[i].weight);
        const bool ends = w == suffix || (w.size() > suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                                          w[w.size() - suffix.size() - 1] == '/');
        if (ends && (tensors_[i].layer.empty() || tensors_[i].layer == group)) in_group.push_back(i);
      }
    if (in_group.empty()) return make_error(label + "its weight " + layer + "/" + name + " is missing from the file");
    if (in_group.size() > 1)
      return make_error(label + "the file holds " + std::to_string(in_group.size()) + " weights named " + layer + "/" + name);
    index = in_group[0];
  }
  const KerasTensor& t = tensors_[index];
  if (t.shape != shape)
    return make_error(label + name + " has shape " + shape_text(t.shape) + ", expected " + shape_text(shape));
  int64_t count = 1;
  for (int64_t d : shape) count *= d;  // bounded: the layer's own shape, checked by the graph's limits
  if (int64_t(t.values.size()) != count)
    return make_error(label + "tensor " + tensor_label(t) + " holds " + std::to_string(t.values.size()) +
                      " values, its shape needs " + std::to_string(count));
  for (float v : t.values)
    if (!std::isfinite(v)) return make_error(label + "tensor " + tensor_label(t) + " contains NaN or infinity");
  used_[index] = 1;
  taken.push_back(t.values);
  ++cursor;
  return t.values;
}

Status WeightStore::finish_layer(const std::string& label, const std::string& layer, const std::string& group,
                                 const std::string& path) {
  if (wanted_ || params_) return {};
  cursor_[key(layer, group, path)] = 0;  // a second call of the layer takes the same weights again
  if (!by_position_) return {};  // a stray named weight is caught by check_all_used
  auto vars = by_path_.find(path);
  if (vars == by_path_.end()) return {};
  const size_t taken = taken_[key(layer, group, path)].size();
  if (vars->second.size() > taken)
    return make_error(label + "the file holds " + std::to_string(vars->second.size()) + " variables at " + path +
                      ", the layer takes " + std::to_string(taken) + " (is the file from another network?)");
  return {};
}

Status WeightStore::check_all_used() const {
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (!used_[i])
      return make_error("tensor " + tensor_label(tensors_[i]) +
                        " belongs to no layer of the model's config (is the file from another network?)");
  return {};
}

}  // namespace gradcam::keras
