// Which tensor of a Keras file is which weight of which layer. Keras 2 (.h5, legacy
// hdf5_format.py) and TF.js name every weight after its layer ("block1_conv1/kernel:0", nested
// "model_1/block1_conv1/kernel:0"; TF.js "conv_pw_13/kernel") inside the group of the file's
// top-level layer (for a nested model, the nested model's group). Keras 3 (saving_lib.py) stores a
// layer's variables as vars/0, vars/1, ... in the order its build() creates them, under a path of
// class names: the file never says which layer it is, the config's order does.
#include <cmath>

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

// The last two parts of a weight's name: "model_1/conv/kernel" -> "conv/kernel".
std::string layer_and_weight(const std::string& w) {
  const std::string s = without_index(w);
  const size_t last = s.rfind('/');
  if (last == std::string::npos || last == 0) return s;
  const size_t before = s.rfind('/', last - 1);
  return before == std::string::npos ? s : s.substr(before + 1);
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// A reader that gives only the group under layers/ ("conv2d_1") means "layers/conv2d_1".
std::string keras3_path(const std::string& layer) { return layer.rfind("layers/", 0) == 0 ? layer : "layers/" + layer; }

std::string tensor_label(const KerasTensor& t) { return t.layer.empty() ? t.weight : t.layer + "/" + t.weight; }

}  // namespace

WeightStore::WeightStore(const std::vector<KerasTensor>& tensors, const std::string& source)
    : tensors_(tensors), source_(source), used_(tensors.size(), 0) {
  by_position_ = !tensors.empty();
  for (const KerasTensor& t : tensors) by_position_ = by_position_ && all_digits(t.weight);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (by_position_) by_path_[keras3_path(tensors[i].layer)][tensors[i].weight] = i;
    else by_suffix_[layer_and_weight(tensors[i].weight)].push_back(i);
  }
}

Result<std::vector<float>> WeightStore::take(const std::string& label, const std::string& layer, const std::string& group,
                                             const std::string& path, const char* name, const std::vector<int64_t>& shape) {
  const std::string key = by_position_ ? path : layer;
  size_t& cursor = cursor_[key];
  std::vector<std::vector<float>>& taken = taken_[key];
  if (cursor < taken.size()) return taken[cursor++];  // a shared layer's second call

  size_t index = tensors_.size();
  if (by_position_) {
    auto layer_vars = by_path_.find(path);
    const std::string slot = std::to_string(cursor);
    if (layer_vars == by_path_.end() || !layer_vars->second.count(slot))
      return make_error(label + "its " + name + " is missing from the file (expected at " + path + "/vars/" + slot + ")");
    index = layer_vars->second.at(slot);
  } else {
    auto found = by_suffix_.find(layer + "/" + name);
    std::vector<size_t> in_group;
    if (found != by_suffix_.end())
      for (size_t i : found->second)
        if (tensors_[i].layer.empty() || tensors_[i].layer == group) in_group.push_back(i);
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

Status WeightStore::finish_layer(const std::string& label, const std::string& layer, const std::string& path) {
  const std::string key = by_position_ ? path : layer;
  cursor_[key] = 0;  // a second call of the layer takes the same weights again
  if (!by_position_) return {};  // a stray named weight is caught by check_all_used
  auto vars = by_path_.find(path);
  if (vars == by_path_.end()) return {};
  const size_t taken = taken_[key].size();
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
