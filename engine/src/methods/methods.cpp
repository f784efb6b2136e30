// The method table's readers: parse_method, names and labels. The table itself (kMethodTable) is in
// methods.h with the Method enum, so a method is its function and two lines of that header.
#include <algorithm>
#include <cctype>

#include "gradcam/methods.h"

namespace gradcam {

const MethodTable& method_table() { return kMethodTable; }

const NameTable<Method>& method_names() {
  static constexpr NameTable<Method> names = names_of<Method>(kMethodTable);
  return names;
}

const MethodDescriptor& method_descriptor(Method m) { return kMethodTable[size_t(m) < kMethodTable.size() ? size_t(m) : 0]; }

Result<Method> parse_method(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '_', '-');
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  if (n == "gradcampp" || n == "gradcam-plusplus" || n == "grad-cam++") n = "gradcam++";
  if (n == "grad-cam") n = "gradcam";
  for (const MethodDescriptor& d : method_table())
    if (n == d.name) return d.id;
  return make_error("unknown method \"" + name + "\" (known: " + names_text(method_names()) + ")");
}

const char* method_name(Method m) { return method_descriptor(m).name; }
const char* method_label(Method m) { return method_descriptor(m).label; }

const std::vector<Method>& all_methods() {
  static const std::vector<Method> v = [] {
    std::vector<Method> out;
    for (const MethodDescriptor& d : method_table()) out.push_back(d.id);
    return out;
  }();
  return v;
}

bool method_is_input_resolution(Method m) { return method_descriptor(m).resolution == MapResolution::input; }

}  // namespace gradcam
