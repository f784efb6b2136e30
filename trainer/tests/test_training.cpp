// Training works: a short CPU run on a synthetic 10-class dataset (coloured stripes) learns far
// beyond chance, and the program end to end writes metrics, checkpoints, resumes, and a model file
// the engine loads.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>

#include "backend.h"
#include "dataset.h"
#include "gradcam/network.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
using namespace trainer;
using trainer::test::TempDir;

namespace {

// Class k: stripes of colour k%5, horizontal for k<5 and vertical otherwise, with a random phase,
// a random period of 3 or 4 pixels and pixel noise.
Dataset synthetic_dataset(int n, int side, uint64_t seed) {
  static const uint8_t palette[5][3] = {{230, 40, 40}, {40, 200, 40}, {40, 60, 230}, {230, 220, 40}, {200, 40, 220}};
  Dataset d;
  d.height = d.width = side;
  d.labels.resize(size_t(n));
  d.pixels.resize(size_t(n) * size_t(d.image_size()));
  std::mt19937 rng(static_cast<unsigned>(seed));
  for (int i = 0; i < n; ++i) {
    const int k = i % 10, phase = int(rng() % 8), period = 3 + int(rng() % 2);
    d.labels[size_t(i)] = k;
    uint8_t* p = d.pixels.data() + int64_t(i) * d.image_size();
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const bool on = (((k < 5 ? y : x) + phase) / period) % 2 == 0;
        for (int c = 0; c < 3; ++c) {
          const int v = (on ? palette[k % 5][c] : 128) + int(rng() % 41) - 20;
          p[(y * side + x) * 3 + c] = uint8_t(std::clamp(v, 0, 255));
        }
      }
  }
  return d;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int run_trainer(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(TRAINER_BINARY) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a short CPU training on synthetic data: the loss falls and accuracy beats chance by far") {
  const Plan plan = test::small_plan(16, 10);
  Dataset train = synthetic_dataset(1200, 16, 1), val = synthetic_dataset(300, 16, 2);
  const int batch = 32;
  auto cpu = make_cpu_backend(plan, batch);
  TrainState s;
  s.params.assign(size_t(plan.num_params), 0.f);
  s.m = s.v = s.params;
  init_params(plan, 1, s.params.data());
  cpu->set_state(s);
  OptimizerConfig opt;
  opt.kind = OptimizerKind::adamw;
  std::vector<float> x(size_t(batch * train.image_size()));
  std::vector<int> labels(static_cast<size_t>(batch)), order(size_t(train.size()));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(3);
  double first_epoch_loss = 0, last_epoch_loss = 0;
  int64_t step = 0;
  const int epochs = 6;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double sum = 0;
    for (int i = 0; i + batch <= train.size(); i += batch) {
      make_batch(train, order.data() + i, batch, plan.arch.scale, Augment{}, 0, x.data(), labels.data());
      sum += cpu->forward_backward(x.data(), labels.data(), batch, uint64_t(step), 0.f).loss;
      cpu->optimizer_step(opt, 3e-3f, ++step);
    }
    (epoch == 0 ? first_epoch_loss : last_epoch_loss) = sum / (train.size() / batch);
  }
  int correct = 0;
  for (int i = 0; i + batch <= val.size(); i += batch) {
    std::vector<int> idx(static_cast<size_t>(batch));
    std::iota(idx.begin(), idx.end(), i);
    make_batch(val, idx.data(), batch, plan.arch.scale, Augment{}, 0, x.data(), labels.data());
    correct += cpu->evaluate(x.data(), labels.data(), batch, nullptr).correct;
  }
  const double accuracy = double(correct) / (val.size() / batch * batch);
  MESSAGE("synthetic: loss ", first_epoch_loss, " -> ", last_epoch_loss, ", validation accuracy ", accuracy);
  CHECK(last_epoch_loss < 0.6 * first_epoch_loss);  // dropout keeps the training loss above its floor
  CHECK(accuracy > 0.6);  // chance is 0.1
}

TEST_CASE("the train program: metrics, checkpoint, --resume, test report, and a model the engine loads") {
  TempDir dir("e2e");
  // A tiny CIFAR-10 binary release of the synthetic images at 32x32, and a small architecture.
  Dataset d = synthetic_dataset(400, 32, 4);
  fs::create_directories(dir.path / "data");
  auto write = [&](const std::string& name, int from, int to) {
    std::ofstream f(dir.path / "data" / name, std::ios::binary);
    for (int i = from; i < to; ++i) {
      f.put(char(d.labels[size_t(i)]));
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 1024; ++k) f.put(char(d.image(i)[k * 3 + c]));
    }
  };
  for (int b = 0; b < 5; ++b) write("data_batch_" + std::to_string(b + 1) + ".bin", b * 60, b * 60 + 60);
  write("test_batch.bin", 300, 400);
  std::string arch = test::small_architecture_json(32, 10);
  const auto& names = gradcam::cifar10_classes();
  for (int i = 0; i < 10; ++i) {
    const std::string placeholder = "\"c" + std::to_string(i) + "\"";
    arch.replace(arch.find(placeholder), placeholder.size(), "\"" + names[size_t(i)] + "\"");
  }
  std::ofstream(dir.path / "arch.json") << arch;
  const std::string common = "--data " + (dir.path / "data").string() + " --arch " + (dir.path / "arch.json").string() +
                             " --out " + (dir.path / "run").string() + " --val 50 --batch 25 --threads 1 --lr 0.003";

  REQUIRE(run_trainer(common + " --epochs 1", dir.path / "log1.txt") == 0);
  CHECK(fs::exists(dir.path / "run" / "checkpoint.bin"));
  REQUIRE(run_trainer(common + " --epochs 2 --resume", dir.path / "log2.txt") == 0);
  const std::string log2 = read_text(dir.path / "log2.txt");
  CHECK(log2.find("resumed from") != std::string::npos);
  CHECK(log2.find("epoch 2/2") != std::string::npos);
  CHECK(log2.find("confusion") != std::string::npos);

  auto metrics = nlohmann::json::parse(read_text(dir.path / "run" / "metrics.json"));
  REQUIRE(metrics["epochs"].size() == 2);
  for (const char* k : {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "images_per_second", "lr"})
    CHECK(metrics["epochs"][1].contains(k));
  CHECK(metrics["test"]["images"] == 100);
  long total = 0;
  for (const auto& row : metrics["test"]["confusion"])
    for (const auto& v : row) total += v.get<long>();
  CHECK(total == 100);
  CHECK(metrics["test"]["per_class_accuracy"].size() == 10);

  auto model = gradcam::load_model_file((dir.path / "run" / "model.safetensors").string());
  REQUIRE_MESSAGE(model.ok(), (model.ok() ? "" : model.error()));
  CHECK(model->trained());
  CHECK(model->arch.classes == names);
  gradcam::Network net(*model);  // plans and runs in the engine
  std::vector<float> input(32 * 32 * 3, 0.5f);
  net.forward(input.data());
  CHECK(net.probabilities().size() == 10);

  // Errors a person can act on, and a non-zero exit status.
  CHECK(run_trainer("--data " + (dir.path / "nowhere").string(), dir.path / "log3.txt") == 1);
  CHECK(read_text(dir.path / "log3.txt").find("no such folder") != std::string::npos);
  CHECK(run_trainer("--data x --recipe fastest", dir.path / "log4.txt") == 2);
  CHECK(read_text(dir.path / "log4.txt").find("unknown recipe") != std::string::npos);
}
