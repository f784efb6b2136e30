// Whether a model's weights can still be allocated, asked before its file is read.
#pragma once

#include <cstddef>
#include <string>

#include "gradcam/status.h"

namespace gradcam {

// A wasm32 build's memory stops at its maximum (4 GiB): a model whose weights (`bytes`, about its
// file's size) would not fit in what is left is refused before a byte is read, with the sizes, rather
// than failing part way as out of memory. A 64-bit build checks nothing here: its limit is the
// operating system's, which a process cannot ask reliably (it overcommits).
Status check_fits_in_memory(size_t bytes, const std::string& source);

}  // namespace gradcam
