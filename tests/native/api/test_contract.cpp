// The contract (contract.h): one reader of numbers, load and evaluate options parsed once, the
// name tables every front end reads, and results written once.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "gradcam/contract.h"
#include "gradcam/request.h"
#include "../test_helpers.h"

using namespace gradcam;
using json = nlohmann::json;

TEST_CASE("the number reader takes whole numbers and finite reals in range, and names the key and range otherwise") {
  CHECK(*read_integer("samples", "25", 1, 1000) == 25);
  CHECK(read_integer("samples", "2.5", 1, 1000).error() == "samples must be a whole number from 1 to 1000 (got \"2.5\")");
  CHECK(!read_integer("--size", "4e+80", 1, 4096));
  CHECK(!read_integer("--size", "99999999999999999999", 1, 4096));  // beyond long long: refused, not wrapped
  CHECK(!read_integer("n", "", 0, 1));
  CHECK(*read_real("alpha", "0.25", 0, 1) == doctest::Approx(0.25));
  CHECK(read_real("alpha", "2", 0, 1).error() == "alpha must be a number from 0 to 1 (got \"2\")");
  for (const char* bad : {"nan", "inf", "-inf", "1e400", "0.5x", ""}) CHECK(!read_real("alpha", bad, 0, 1));
  CHECK(read_real_list("--mean", "0.485,0.456,0.406")->size() == 3);
  CHECK(read_real_list("--mean", "0.5,,0.5").error() ==
        "--mean takes numbers separated by commas, e.g. 0.485,0.456,0.406 (got \"0.5,,0.5\")");
  CHECK(!read_real_list("--mean", "0.5,nan,0.5"));
}

TEST_CASE("load options: a JSON number out of range is an error naming size, never a conversion (loadEngine({size: 4e80}))") {
  CHECK(parse_load_options(R"({"size": 4e80})").error() == "size must be a whole number from 1 to 4096 (got \"4e+80\")");
  CHECK(!parse_load_options(R"({"size": 224.5})"));
  CHECK(!parse_load_options(R"({"size": -1})"));
  CHECK(!parse_load_options(R"({"size": 18446744073709551615})"));
  CHECK(parse_load_options(R"({"size": 224})")->size == 224);
  CHECK(parse_load_options(R"({"size": null})")->size == 0);  // null: absent
}

TEST_CASE("load options: mean and std are three finite numbers each, together, std positive; labels names or a file's text") {
  auto o = parse_load_options(R"({"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "labels": "cat\ndog\n"})");
  REQUIRE(o);
  CHECK(o->mean.size() == 3);
  CHECK(o->labels == std::vector<std::string>{"cat", "dog"});
  CHECK(parse_load_options(R"({"mean": [0.5, 0.5, 0.5]})").error().find("mean and std go together") == 0);
  CHECK(parse_load_options(R"({"mean": [0.5], "std": [0.2]})").error().find("mean and std need 3 values each") == 0);
  CHECK(parse_load_options(R"({"mean": 5, "std": [1, 1, 1]})").error().find("mean must be an array of numbers") == 0);
  // Text is the CLI's and the widget's form of the same list.
  CHECK(parse_load_options(R"({"mean": "0.5,0.5,0.5", "std": [1, 1, 1]})")->mean == std::vector<float>{0.5f, 0.5f, 0.5f});
  CHECK(parse_load_options(R"({"mean": "0.5;0.5;0.5", "std": [1, 1, 1]})").error().find("mean takes numbers separated by commas") == 0);
  CHECK(parse_load_options(R"({"mean": [0, 0, 1e39], "std": [1, 1, 1]})").error().find("mean must be a number from") == 0);
  CHECK(!parse_load_options(R"({"mean": "0,0,1e39", "std": [1, 1, 1]})"));
  CHECK(parse_load_options(R"({"mean": [0, 0, 0], "std": [1, 0, 1]})").error() == "std must be positive");
  CHECK(parse_load_options(R"({"labels": [1, 2]})").error().find("labels must be an array of strings") == 0);
  CHECK(parse_load_options(R"({"means": []})").error() == "unknown model option \"means\" (valid: mean, std, labels, size, threads)");
  // threads: the engine's thread count, a whole number from 1 (0 is not "as many as there are").
  CHECK(parse_load_options(R"({"threads": 3})")->threads == 3);
  CHECK(parse_load_options(R"({"threads": "2"})")->threads == 2);
  CHECK(parse_load_options("{}")->threads == 0);
  CHECK(parse_load_options(R"({"threads": 0})").error() == "threads must be a whole number from 1 to 256 (got \"0\")");
  CHECK(parse_load_options(R"({"threads": 1.5})").error() == "threads must be a whole number from 1 to 256 (got \"1.5\")");
  CHECK(parse_load_options("[1]").error() == "model options must be an object");
}

TEST_CASE("load options as the CLI gives them: the same checks with the flags' names; one value of --mean is refused") {
  LoadOptions o;
  REQUIRE(set_load_option(o, "mean", "0.5", "--"));
  REQUIRE(set_load_option(o, "std", "0.2", "--"));
  // No format takes a one-channel input (every image becomes RGB), so one value is a usage error.
  CHECK(check_load_options(o, "--").error() == "--mean and --std need 3 values each (R,G,B: every model's input is RGB), got 1 and 1");
  CHECK(set_load_option(o, "size", "4e80", "--").error() == "--size must be a whole number from 1 to 4096 (got \"4e80\")");
  CHECK(set_load_option(o, "sise", "1", "--").error() == "unknown option --sise (valid: --mean, --std, --labels, --size, --threads)");
  CHECK(set_load_option(o, "threads", "-1", "--").error() == "--threads must be a whole number from 1 to 256 (got \"-1\")");
  CHECK(set_load_option(o, "threads", "two", "--").error() == "--threads must be a whole number from 1 to 256 (got \"two\")");
  LoadOptions half;
  REQUIRE(set_load_option(half, "std", "0.2,0.2,0.2", "--"));
  CHECK(check_load_options(half, "--").error().find("--mean and --std go together") == 0);
}

TEST_CASE("evaluate options: metrics by the table's names, steps through the number reader") {
  auto o = parse_evaluate_options(R"({"metrics": ["road", "deletion"], "steps": 16, "crop": "letterbox"})");
  REQUIRE(o);
  CHECK(o->steps == 16);
  CHECK(o->crop == CropMode::letterbox);
  CHECK(parse_evaluate_options("{}")->metrics == metric_names());
  CHECK(parse_evaluate_options(R"({"metrics": ["roc"]})").error() ==
        "unknown metric \"roc\" (valid: deletion, insertion, road, confidence_change)");
  CHECK(parse_evaluate_options(R"({"step": 3})").error() == "unknown option step (valid: metrics, steps, crop)");
  CHECK(parse_evaluate_options(R"({"steps": 1e10})").error().find("steps must be a whole number from 1 to 4096") == 0);
  CHECK(parse_evaluate_options(R"({"metrics": "insertion,road"})")->metrics == std::vector<std::string>{"insertion", "road"});
  CHECK(parse_evaluate_options(R"({"metrics": []})").error().find("metrics must be") == 0);
}

TEST_CASE("an options object becomes key/value text: numbers as JSON writes them, null left out, objects refused") {
  auto f = option_fields(R"({"layer": "conv2d_6", "samples": 25, "alpha": 0.5, "target": null, "predict_only": true})");
  REQUIRE(f);
  CHECK(*f == OptionFields{{"alpha", "0.5"}, {"layer", "conv2d_6"}, {"predict_only", "true"}, {"samples", "25"}});
  CHECK(option_fields(R"({"layer": ["conv2d"]})").error() == "layer must be a string or a number, not [\"conv2d\"]");
  CHECK(*option_fields(R"({"metrics": ["road", "deletion"]})", {"metrics"}) == OptionFields{{"metrics", "road,deletion"}});
  CHECK(option_fields(R"({"metrics": [1]})", {"metrics"}).error() == "metrics must be a list of names, not [1]");
  CHECK(option_fields("3").error() == "options must be an object");
}

TEST_CASE("every enum has a name for each value, and info exports the tables front ends read") {
  CHECK(method_names().size() == size_t(Method::count));
  for (size_t i = 0; i < method_table().size(); ++i) CHECK(size_t(method_table()[i].id) == i);
  for (size_t i = 0; i < size_t(Colormap::count); ++i) CHECK(*parse_colormap(colormap_names()[i]) == Colormap(i));
  for (size_t i = 0; i < size_t(CropMode::count); ++i) CHECK(*parse_crop_mode(kCropModeNames[i]) == CropMode(i));
  for (size_t i = 0; i < size_t(Score::count); ++i) CHECK(*parse_score(kScoreNames[i]) == Score(i));
  const json names = json::parse(name_tables_json());
  CHECK(names["colormaps"] == json{"turbo", "jet", "viridis", "inferno"});
  CHECK(names["crops"] == json{"center", "squash", "letterbox"});
  CHECK(names["scores"] == json{"logit", "probability"});
  CHECK(names["metrics"] == json{"deletion", "insertion", "road", "confidence_change"});
  CHECK(names["methods"].size() == size_t(Method::count));
  CHECK(names["ops"].size() == op_table().size());
  Engine engine(random_model(seed_architecture(), 1));
  const json info = json::parse(engine.info_json());
  CHECK(info["names"] == names);
  CHECK(info["format"] == "model");
  CHECK(info["asks_for_input_options"] == false);
}

TEST_CASE("the one-line summary is written once, in the explanation's JSON") {
  Engine engine(random_model(seed_architecture(), 1));
  const Architecture& a = engine.arch();
  const std::vector<float> input(size_t(a.height * a.width * a.channels), 0.5f);
  ExplainOptions o;
  o.target = 3;
  auto e = engine.explain(input, o);
  REQUIRE(e);
  const json j = json::parse(explanation_json(engine.model(), *e, {}));
  const std::string summary = j["summary"];
  CHECK(summary == explanation_summary(engine.model(), *e));
  CHECK(summary.find("Grad-CAM for " + engine.arch().classes[3]) != std::string::npos);
  CHECK(summary.find(" at conv2d_8 (") != std::string::npos);
}

TEST_CASE("eigen-smooth is a request key: true or false, a switch for the CLI, and the request's JSON reports it") {
  Engine engine(random_model(seed_architecture(), 1));
  CHECK(request_key_is_switch("eigen-smooth"));
  CHECK(!request_key_is_switch("samples"));
  auto on = parse_request(engine.model(), {{"method", "layercam"}, {"eigen-smooth", "true"}});
  REQUIRE(on);
  CHECK(on->options.eigen_smooth);
  CHECK(json::parse(request_json(engine.model(), *on))["eigen_smooth"] == true);
  CHECK(!parse_request(engine.model(), {})->options.eigen_smooth);
  CHECK(parse_request(engine.model(), {{"eigen-smooth", "yes"}}, "--").error() == "--eigen-smooth must be true or false (got \"yes\")");
  // The JS API's JSON booleans arrive as "true"/"false".
  CHECK(*option_fields(R"({"eigen-smooth": false})") == OptionFields{{"eigen-smooth", "false"}});
}
