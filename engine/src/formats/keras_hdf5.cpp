// Keras HDF5 files through the HDF5 C library (Debian's libhdf5-dev; native builds only: the JS
// API reads them with h5wasm and hands the tensors over, keras_manifest.cpp). Layouts followed:
//  - Keras 2 / tf.keras save_weights("model.h5") (keras/saving/legacy/hdf5_format.py,
//    save_weights_to_hdf5_group; Keras 3 keeps it in keras/src/legacy/saving/legacy_h5_format.py):
//    root attribute layer_names, a group per layer with attribute weight_names, a dataset per weight
//    at <layer>/<weight name> ("conv2d/conv2d/kernel:0"). Attributes over HDF5's 64 KiB object
//    header limit are split into layer_names0, layer_names1, ... (save_attributes_to_hdf5_group).
//  - Keras 2 save("m.h5") (save_model_to_hdf5): root attribute model_config (JSON), the weights in
//    the layout above under model_weights/.
//  - Keras 3 save_weights("m.weights.h5") (keras/src/saving/saving_lib.py, H5IOStore): a group per
//    layer at layers/<class in snake case>[_N]/vars holding datasets 0..n-1 in the layer's weight
//    order, a nested model's layers below its own (layers/functional/layers/conv2d/vars); the
//    tensors' layer is that path ("layers/conv2d_1"). Other top-level groups (optimizer/, vars/)
//    are not weights of the network.
// Shapes are read and matched first; only matched tensors (whose shapes the architecture bounds)
// are read, so a hostile file cannot size an allocation.
#include "gradcam/keras.h"

#include "formats/keras_hdf5_child.h"

#if GRADCAM_HAVE_HDF5
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#endif

namespace gradcam {

#if GRADCAM_HAVE_HDF5

namespace {

constexpr size_t kMaxAttributeBytes = 16u << 20;
constexpr hsize_t kMaxNames = 4096;  // layers (with or without weights) or weights in one group

// An HDF5 identifier closed when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

bool has_link(hid_t loc, const std::string& path) {
  // H5Lexists needs every intermediate group to exist: check each prefix of "a/b/c".
  for (size_t p = path.find('/'); ; p = path.find('/', p + 1)) {
    std::string prefix = path.substr(0, p);
    if (prefix.empty() || H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (p == std::string::npos) return true;
  }
}

bool has_attribute(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

// A string attribute (scalar or list; fixed-length as h5py writes bytes, or variable-length as it
// writes str), every size checked before it is allocated.
Result<std::vector<std::string>> read_strings_once(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.ok()) return make_error("cannot open attribute " + name);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  Handle space(H5Aget_space(a.get()), H5Sclose);
  if (!type.ok() || !space.ok()) return make_error("cannot read attribute " + name);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || hsize_t(n) > kMaxNames) return make_error("attribute " + name + " has too many entries");
  std::vector<std::string> out;
  // Keras writes a layer without weights as weight_names = np.asarray([]): an empty float array.
  if (n == 0) return out;
  if (H5Tget_class(type.get()) != H5T_STRING) return make_error("attribute " + name + " is not text");
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));  // HDF5 does not convert ASCII <-> UTF-8
    std::vector<char*> ptrs(size_t(n), nullptr);
    if (H5Aread(a.get(), mem.get(), ptrs.data()) < 0) return make_error("cannot read attribute " + name);
    size_t total = 0;
    for (char* p : ptrs) {
      std::string s = p ? std::string(p, strnlen(p, kMaxAttributeBytes)) : std::string();
      total += s.size();
      out.push_back(std::move(s));
    }
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    if (total >= kMaxAttributeBytes) return make_error("attribute " + name + " is larger than 16 MiB");
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || size > kMaxAttributeBytes || size * size_t(n) > kMaxAttributeBytes)
    return make_error("attribute " + name + " is larger than 16 MiB");
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), size);
  H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);  // numpy's "S" strings fill all `size` bytes
  std::vector<char> buf(size * size_t(n));
  if (H5Aread(a.get(), mem.get(), buf.data()) < 0) return make_error("cannot read attribute " + name);
  for (hssize_t i = 0; i < n; ++i) {
    const char* p = buf.data() + size_t(i) * size;
    out.emplace_back(p, strnlen(p, size));
  }
  return out;
}

// The attribute, or its chunks name0, name1, ... (Keras splits long lists that way).
Result<std::vector<std::string>> read_strings(hid_t obj, const std::string& name) {
  if (has_attribute(obj, name)) return read_strings_once(obj, name);
  std::vector<std::string> all;
  for (int chunk = 0; has_attribute(obj, name + std::to_string(chunk)); ++chunk) {
    auto part = read_strings_once(obj, name + std::to_string(chunk));
    if (!part) return part;
    all.insert(all.end(), part->begin(), part->end());
    if (all.size() > kMaxNames) return make_error("attribute " + name + " has too many entries");
  }
  return all;
}

const char* type_class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    default: return "non-float";
  }
}

// True when `path`'s last link stays in this file (hard or soft): the walk below never follows an
// external link, which would open another file on this machine.
bool links_within_file(hid_t loc, const std::string& path) {
  H5L_info_t info;
  return H5Lget_info(loc, path.c_str(), &info, H5P_DEFAULT) >= 0 &&
         (info.type == H5L_TYPE_HARD || info.type == H5L_TYPE_SOFT);
}

// A weight's shape (and that it holds floats), without reading its values.
Status describe_dataset(hid_t loc, const std::string& path, KerasTensor& t) {
  const std::string what = "tensor " + t.layer + "/" + t.weight;
  if (!has_link(loc, path)) return make_error(what + " is listed but missing from the file");
  if (!links_within_file(loc, path)) return make_error(what + " is a link to another file");
  Handle d(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.ok()) return make_error(what + " is not a dataset");
  Handle type(H5Dget_type(d.get()), H5Tclose);
  const H5T_class_t cls = type.ok() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  Handle space(H5Dget_space(d.get()), H5Sclose);
  const int rank = space.ok() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0 || rank > 8) return make_error(what + " has an unreadable or too large rank");
  // Normalization's count is an integer scalar (tf-keras and Keras 3 both store it so); HDF5
  // converts it to a float as it reads.
  const bool counter = cls == H5T_INTEGER && rank == 0;
  if (cls != H5T_FLOAT && !counter) return make_error(what + " holds " + type_class_name(cls) + " values; Keras weights are floats");
  const size_t bytes = H5Tget_size(type.get());
  if (!counter && bytes != 2 && bytes != 4 && bytes != 8)
    return make_error(what + " holds " + std::to_string(bytes) + "-byte floats (16, 32 or 64-bit are read)");
  hsize_t dims[8];
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  uint64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > uint64_t(ModelLimits::kMaxTensorElements) || (n *= dims[i]) > uint64_t(ModelLimits::kMaxTensorElements))
      return make_error(what + " is larger than the limit of " + std::to_string(ModelLimits::kMaxTensorElements) +
                        " values");
    t.shape.push_back(int64_t(dims[i]));
  }
  return Status::Ok();
}

Status read_dataset(hid_t loc, const std::string& path, KerasTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;  // the architecture's shape by now
  Handle d(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  t.values.assign(size_t(n), 0.f);
  // HDF5 converts 16- and 64-bit floats to the native float as it reads.
  if (!d.ok() || H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data()) < 0)
    return make_error("cannot read tensor " + t.layer + "/" + t.weight + " (the file is truncated or damaged)");
  return Status::Ok();
}

// The names of a group's links in name order.
Result<std::vector<std::string>> link_names(hid_t group, const std::string& what) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) return make_error("cannot list " + what);
  if (info.nlinks > kMaxNames) return make_error(what + " has too many entries");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char buf[1024];
    ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
    if (len < 0 || size_t(len) >= sizeof buf) return make_error("cannot list " + what);
    names.emplace_back(buf, size_t(len));
  }
  return names;
}

// Keras's automatic numbering order: conv2d, conv2d_1, ..., conv2d_10 (HDF5 lists by name).
bool keras_name_less(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    size_t u = s.find_last_of('_');
    if (u != std::string::npos && u + 1 < s.size() && u + 10 > s.size() &&
        s.find_first_not_of("0123456789", u + 1) == std::string::npos)
      return std::make_pair(s.substr(0, u), std::stol(s.substr(u + 1)));
    return std::make_pair(s, -1L);
  };
  return split(a) < split(b);
}

// A Keras 3 layer's variables: <path>/vars/0, 1, ... (Layer.save_own_variables numbers them in
// the layer's weight order).
struct Keras3Layer {
  std::string path;               // "layers/conv2d_1", "layers/functional/layers/conv2d"
  std::vector<std::string> vars;  // "0", "1", ..., "10" in numeric order
};

// The numbered variables of one vars group, in numeric order (HDF5 lists "10" before "2").
Status numbered_vars(hid_t root, const std::string& vars, std::vector<std::string>& out) {
  if (!links_within_file(root, vars)) return make_error(vars + " is a link to another file, not a group");
  Handle g(H5Gopen2(root, vars.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) return make_error(vars + " is not a group");
  auto names = link_names(g.get(), vars);
  if (!names) return make_error(names.error());
  std::vector<long> numbers;
  for (const std::string& n : *names) {
    if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos)
      return make_error(vars + " holds '" + n + "'; Keras numbers a layer's variables 0, 1, ...");
    if (!links_within_file(root, vars + "/" + n)) return make_error(vars + "/" + n + " is a link to another file, not a dataset");
    numbers.push_back(std::stol(n));
  }
  std::sort(numbers.begin(), numbers.end());
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (numbers[i] != long(i))
      return make_error(vars + " has variables " + (i ? std::to_string(numbers[i - 1]) + " then " : "") +
                        std::to_string(numbers[i]) + "; Keras numbers them 0, 1, ... without gaps");
    out.push_back(std::to_string(i));
  }
  return Status::Ok();
}

// Keras 3's layers/ tree (saving_lib.py: _save_state writes a saveable's own variables at
// <path>/vars, then its children below <path>; _save_container_state names a container's
// members by class in snake case, numbered per class: layers/conv2d, layers/conv2d_1, and a nested
// model's at layers/functional/layers/conv2d). Depth-first, a layer before its sublayers, siblings
// in Keras's numbering order. HDF5 links may form cycles: depth and the number of groups visited
// are bounded.
Status list_keras3_layers(hid_t root, const std::string& path, int depth, size_t& visited,
                          std::vector<Keras3Layer>& out) {
  if (depth > 16) return make_error(path + " is nested more than 16 deep");
  if (++visited > 4 * kMaxNames) return make_error("layers/ holds more than " + std::to_string(4 * kMaxNames) + " groups");
  if (!links_within_file(root, path)) return make_error(path + " is a link to another file, not a group");
  Handle g(H5Gopen2(root, path.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) return make_error(path + " is not a group");
  auto names = link_names(g.get(), path);
  if (!names) return make_error(names.error());
  std::sort(names->begin(), names->end(), keras_name_less);
  if (std::find(names->begin(), names->end(), "vars") != names->end()) {
    Keras3Layer layer{path, {}};
    if (Status s = numbered_vars(root, path + "/vars", layer.vars); !s) return s;
    if (!layer.vars.empty()) out.push_back(std::move(layer));
  }
  for (const std::string& child : *names) {
    if (child == "vars") continue;
    const std::string sub = path + "/" + child;
    if (!links_within_file(root, sub)) return make_error(sub + " is a link to another file, not a group");
    Handle o(H5Oopen(root, sub.c_str(), H5P_DEFAULT), H5Oclose);
    if (!o.ok() || H5Iget_type(o.get()) != H5I_GROUP) continue;  // not a layer (nothing Keras writes)
    if (Status s = list_keras3_layers(root, sub, depth + 1, visited, out); !s) return s;
  }
  return Status::Ok();
}

}  // namespace

bool keras_hdf5_available() { return true; }

Result<KerasFile> read_keras_hdf5(const uint8_t* bytes, size_t size, const std::string& source) {
  auto fail = [&](const std::string& m) { return make_error(source + ": " + m); };
  if (size == 0) return fail("empty file");
  if (size > ModelLimits::kMaxFileBytes) return fail("file is larger than the " + std::to_string(ModelLimits::kMaxFileBytes >> 20) + " MiB model limit");
  if (!is_hdf5(bytes, size)) return fail("not an HDF5 file (no HDF5 signature at its start)");
  // The library is not thread-safe in Debian's serial build; a model is loaded once per engine.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are returned as values, not printed

  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.ok() || H5Pset_fapl_core(fapl.get(), 1 << 16, 0) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<uint8_t*>(bytes), size) < 0)
    return fail("cannot hand the file to the HDF5 library");
  Handle file(H5Fopen("keras.h5", H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.ok()) return fail("not a readable HDF5 file (truncated or damaged)");
  Handle root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
  if (!root.ok()) return fail("not a readable HDF5 file (no root group)");

  KerasFile kf;
  std::vector<std::pair<hid_t, std::string>> paths;  // each tensor's group and dataset path
  hid_t weights = root.get();
  std::unique_ptr<Handle> model_weights;
  if (has_attribute(root.get(), "model_config")) {
    auto config = read_strings(root.get(), "model_config");
    if (!config) return fail(config.error());
    if (config->size() != 1) return fail("attribute model_config must be one JSON text");
    kf.model_config = config->front();
    if (!has_link(root.get(), "model_weights")) return fail("a whole-model file without its model_weights group");
    model_weights = std::make_unique<Handle>(H5Gopen2(root.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    if (!model_weights->ok()) return fail("model_weights is not a group");
    weights = model_weights->get();
  }
  for (hid_t obj : {root.get(), weights})
    if (kf.keras_version.empty() && has_attribute(obj, "keras_version")) {
      auto v = read_strings(obj, "keras_version");
      if (v && v->size() == 1) kf.keras_version = v->front();
    }

  if (has_attribute(weights, "layer_names") || has_attribute(weights, "layer_names0")) {
    auto layers = read_strings(weights, "layer_names");
    if (!layers) return fail(layers.error());
    for (const std::string& layer : *layers) {
      if (layer.empty() || !has_link(weights, layer)) return fail("layer " + layer + " is listed in layer_names but has no group");
      if (!links_within_file(weights, layer)) return fail("layer " + layer + " is a link to another file, not a group");
      Handle g(H5Gopen2(weights, layer.c_str(), H5P_DEFAULT), H5Gclose);
      if (!g.ok()) return fail("layer " + layer + " is not a group");
      auto names = read_strings(g.get(), "weight_names");
      if (!names) return fail("layer " + layer + ": " + names.error());
      for (const std::string& w : *names) {
        KerasTensor t{layer, w, {}, {}};
        if (w.empty()) return fail("layer " + layer + " lists an empty weight name");
        if (Status s = describe_dataset(g.get(), w, t); !s) return fail(s.error());
        kf.tensors.push_back(std::move(t));
        paths.push_back({weights, layer + "/" + w});
      }
    }
  } else if (has_link(root.get(), "layers")) {
    std::vector<Keras3Layer> layers;
    size_t visited = 0;
    if (Status s = list_keras3_layers(root.get(), "layers", 0, visited, layers); !s) return fail(s.error());
    for (const Keras3Layer& layer : layers)
      for (const std::string& i : layer.vars) {
        KerasTensor t{layer.path, i, {}, {}};
        if (Status s = describe_dataset(root.get(), layer.path + "/vars/" + i, t); !s) return fail(s.error());
        kf.tensors.push_back(std::move(t));
        paths.push_back({root.get(), layer.path + "/vars/" + i});
      }
  } else {
    return fail("not a Keras weights file: no layer_names attribute (Keras 2 save_weights or save) and no "
                "layers/ group (Keras 3 .weights.h5)");
  }

  for (size_t i = 0; i < kf.tensors.size(); ++i)
    if (Status s = read_dataset(paths[i].first, paths[i].second, kf.tensors[i]); !s) return fail(s.error());
  return kf;
}

#else  // no HDF5 library in this build (the wasm engine)

bool keras_hdf5_available() { return false; }

Result<KerasFile> read_keras_hdf5(const uint8_t*, size_t, const std::string& source) {
  return make_error(source + ": a Keras HDF5 file; this build reads them through the JS API (loadEngine) or the "
                    "native CLI: convert it with `gradcam import-keras " + source + " --out model.safetensors`");
}

#endif

Result<Model> load_keras_hdf5(const uint8_t* bytes, size_t size, const std::string& source,
                              const KerasArch* given, const std::string* archive_config) {
  auto file = read_keras_hdf5_isolated(bytes, size, source);  // a crash in libhdf5 is an error
  if (!file) return make_error(file.error());
  if (file->model_config.empty() && archive_config) file->model_config = *archive_config;
  return load_keras_file(std::move(file.value()), source, given);
}

}  // namespace gradcam
