// Values of any rank: the two layouts' logical views, the CAM map a token value gives, and the
// guard that keeps values of other ranks away from ops written for images and [1, n] vectors.
#include <doctest/doctest.h>

#include "gradcam/graph.h"
#include "../test_helpers.h"

namespace {

using namespace gradcam;

TEST_CASE("tensor_view: an image is [1,C,H,W] over channels-last floats; rows are row-major") {
  Value image;
  image.shape = {3, 5, 7};
  settle_value(image);
  const TensorView t = tensor_view(image);
  CHECK(t.dims == std::vector<int64_t>{1, 7, 3, 5});
  CHECK(t.strides == std::vector<int64_t>{105, 1, 35, 7});
  CHECK(image.map.is_map());
  CHECK(image.map.grid == Shape{3, 5, 7});

  Value rows;
  set_rows(rows, {1, 2, 3, 4});
  const TensorView r = tensor_view(rows);
  CHECK(r.strides == std::vector<int64_t>{24, 12, 4, 1});
  CHECK(rows.shape.size() == 24);
  CHECK(rows.rank == 4);
}

TEST_CASE("settle_value: token values are read as the grid pytorch-grad-cam's reshape_transform makes") {
  Value vit;  // a class token then 14x14 patches
  set_rows(vit, {1, 197, 768});
  CHECK(vit.map.offset == 768);
  CHECK(vit.map.grid == Shape{14, 14, 768});
  Value patches;  // no class token
  set_rows(patches, {1, 49, 32});
  CHECK(patches.map.offset == 0);
  CHECK(patches.map.grid == Shape{7, 7, 32});
  Value swin;  // channels-last grid
  set_rows(swin, {1, 7, 5, 96});
  CHECK(swin.map.grid == Shape{7, 5, 96});
  Value attention;  // 197 tokens: not a square, and no class-token square either
  set_rows(attention, {1, 12, 197});
  CHECK_FALSE(attention.map.is_map());
  Value vector;  // an older op's [1, n]: a rows vector, no map
  vector.shape = {1, 1, 10};
  vector.rank = 2;
  settle_value(vector);
  CHECK(vector.is_vector());
  CHECK(vector.dims == std::vector<int64_t>{1, 10});
  CHECK_FALSE(vector.map.is_map());
}

TEST_CASE("a [1,n] vector has no channel limit; an empty extent is refused") {
  Node n;
  n.name = "flat";
  Value big;
  set_rows(big, {1, 64 * 64 * 32});
  CHECK(check_output_limits(n, big));
  Value empty;
  set_rows(empty, {1, 0, 4});
  const Status s = check_output_limits(n, empty);
  REQUIRE_FALSE(s);
  CHECK(s.error().find("[1,0,4]") != std::string::npos);
}

TEST_CASE("infer_node: an op written for images refuses a rows value that is not a [1,n] vector") {
  testing::GraphBuilder b(4, 4, 3);
  Graph& g = b.g;
  Value tokens;
  tokens.name = "tokens";
  set_rows(tokens, {1, 16, 3});
  g.values.push_back(tokens);
  Node relu_like;
  relu_like.name = "pool";
  relu_like.op_type = "GlobalAveragePool";
  relu_like.op = find_op("GlobalAveragePool");
  relu_like.inputs = {int(g.values.size()) - 1};
  Value out;
  const Status s = infer_node(g, relu_like, out);
  REQUIRE_FALSE(s);
  CHECK(s.error().find("'tokens' of shape [1,16,3]") != std::string::npos);
}

}  // namespace
