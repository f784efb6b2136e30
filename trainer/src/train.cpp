// gradcam train: trains a model file for the engine from CIFAR-10.
//   train --data DIR [--recipe seed|best] [--out DIR] ...   (train --help lists everything)
// The loop, in order: load and split the data, plan the architecture, then per epoch: batches
// (forward, backward, optimiser), validation, metrics JSON, checkpoint, best model; finally the
// test split once, on the best-validation weights.
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend.h"
#include "checkpoint.h"
#include "dataset.h"
#include "plan.h"
#include "recipe.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace trainer;

namespace {

const char* kUsage = R"(usage: train --data DIR [options]

Trains the engine's model file (safetensors, Keras layer names and layouts) on CIFAR-10.

data
  --data DIR            the binary release (data_batch_1..5.bin, test_batch.bin, or a folder
                        holding cifar-10-batches-bin/) or image folders DIR/train|test/<class>/*.jpg|png
  --val N               images of train held out for validation (default 5000)
  --limit-train N       train on the first N images only (quick runs)
  --on-bad-image MODE   skip (name it and go on) or stop (default stop)
model
  --arch FILE           architecture JSON (default: the seed network of the Keras tutorial)
  --seed N              initial weights, dropout, shuffling, augmentation (default 1)
recipe
  --recipe NAME         seed (the tutorial: RMSprop 1e-3, batch 512, 150 epochs) or best (default)
  --epochs N  --batch N  --lr X  --warmup-epochs X  --label-smoothing X  --weight-decay X
  --no-augment
run
  --out DIR             checkpoint.bin, metrics.json, model.safetensors (best validation)
                        (default data/runs/<recipe>; data/ is git-ignored)
  --model-out FILE      also copy the final (best-validation) model here
  --resume              continue from DIR/checkpoint.bin
  --backend cpu|cuda    (default cpu)    --tf32   TF32 tensor cores for cuBLAS (CUDA only)
  --threads N           CPU threads (default: all cores)
  --no-test             skip the final test evaluation
)";

struct UsageError {
  std::string message;
};

struct Args {
  std::map<std::string, std::string> values;
  bool has(const std::string& k) const { return values.count(k) > 0; }
  std::string get(const std::string& k, const std::string& d = "") const {
    auto it = values.find(k);
    return it == values.end() ? d : it->second;
  }
  double number(const std::string& k, double d) const {
    if (!has(k)) return d;
    const std::string& s = values.at(k);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) throw UsageError{"--" + k + " expects a number, got \"" + s + "\""};
    return v;
  }
};

Args parse_args(int argc, char** argv) {
  static const std::vector<std::string> flags = {"resume", "tf32", "no-augment", "no-test", "help"};
  static const std::vector<std::string> options = {
      "data", "val", "limit-train", "on-bad-image", "arch", "seed", "recipe", "epochs", "batch", "lr",
      "warmup-epochs", "label-smoothing", "weight-decay", "out", "model-out", "backend", "threads"};
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) throw UsageError{"unexpected argument \"" + s + "\""};
    s = s.substr(2);
    if (std::find(flags.begin(), flags.end(), s) != flags.end()) {
      a.values[s] = "1";
    } else if (std::find(options.begin(), options.end(), s) != options.end()) {
      if (i + 1 >= argc) throw UsageError{"--" + s + " needs a value"};
      a.values[s] = argv[++i];
    } else {
      throw UsageError{"unknown option --" + s};
    }
  }
  return a;
}

std::string duration_text(double s) {
  char buf[32];
  const long t = long(std::max(0.0, s) + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

// One line, redrawn in place on a terminal; in a log file a line every 10% of the epoch.
class ProgressBar {
 public:
  ProgressBar(int epoch, int epochs, int total) : epoch_(epoch), epochs_(epochs), total_(total) {
    tty_ = isatty(fileno(stderr));
    start_ = std::chrono::steady_clock::now();
  }
  void update(int done, double loss, double acc, bool final = false) {
    const double t = seconds();
    const int tenth = int(10.0 * done / std::max(total_, 1));
    if (!final && (tty_ ? t - last_ < 0.25 : tenth == last_tenth_)) return;
    last_ = t;
    last_tenth_ = tenth;
    const double rate = done / std::max(t, 1e-9);
    const int width = 24, fill = int(double(width) * done / std::max(total_, 1));
    std::fprintf(stderr, "%sepoch %d/%d [%s%s] %d/%d loss %.4f acc %.3f %.0f img/s ETA %s%s", tty_ ? "\r" : "",
                 epoch_, epochs_, std::string(size_t(fill), '#').c_str(), std::string(size_t(width - fill), '.').c_str(),
                 done, total_, loss, acc, rate, duration_text(double(total_ - done) / std::max(rate, 1e-9)).c_str(),
                 tty_ ? "\033[K" : "\n");
    if (tty_ && final) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  int epoch_, epochs_, total_;
  bool tty_;
  double last_ = -1;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_;
};

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::vector<std::vector<long>> confusion;  // [true][predicted]
};

EvalResult evaluate(Backend& backend, const Dataset& d, int batch, float scale, int classes) {
  EvalResult r;
  r.confusion.assign(size_t(classes), std::vector<long>(size_t(classes), 0));
  std::vector<float> x(size_t(batch * d.image_size())), probs(size_t(batch * classes));
  std::vector<int> labels(static_cast<size_t>(batch)), idx(static_cast<size_t>(batch));
  double loss = 0;
  long correct = 0;
  for (int s = 0; s < d.size(); s += batch) {
    const int B = std::min(batch, d.size() - s);
    std::iota(idx.begin(), idx.begin() + B, s);
    make_batch(d, idx.data(), B, scale, Augment{}, 0, x.data(), labels.data());
    BatchStats st = backend.evaluate(x.data(), labels.data(), B, probs.data());
    loss += double(st.loss) * B;
    correct += st.correct;
    for (int b = 0; b < B; ++b) {
      const float* p = probs.data() + int64_t(b) * classes;
      r.confusion[size_t(labels[size_t(b)])][size_t(std::max_element(p, p + classes) - p)]++;
    }
  }
  r.loss = loss / std::max(d.size(), 1);
  r.accuracy = double(correct) / std::max(d.size(), 1);
  return r;
}

std::string machine_description(int threads) {
  std::string cpu = "unknown CPU";
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical cores, " +
         std::to_string(threads) + " thread(s) used";
}

void write_json(const std::string& path, const json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << j.dump(2) << "\n";
  }
  fs::rename(tmp, path);
}

int run(const Args& a) {
  if (a.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.has("data")) throw UsageError{"--data DIR is required"};

  // Recipe and its overrides.
  auto recipe_r = recipe_by_name(a.get("recipe", "best"));
  if (!recipe_r) throw UsageError{recipe_r.error()};
  Recipe recipe = *recipe_r;
  recipe.epochs = int(a.number("epochs", recipe.epochs));
  recipe.batch = int(a.number("batch", recipe.batch));
  recipe.lr = float(a.number("lr", recipe.lr));
  recipe.warmup_epochs = float(a.number("warmup-epochs", recipe.warmup_epochs));
  recipe.label_smoothing = float(a.number("label-smoothing", recipe.label_smoothing));
  recipe.optimizer.weight_decay = float(a.number("weight-decay", recipe.optimizer.weight_decay));
  if (a.has("no-augment")) recipe.augment.enabled = false;
  if (recipe.epochs < 1 || recipe.batch < 1) throw UsageError{"--epochs and --batch must be positive"};
  const uint64_t seed = uint64_t(a.number("seed", 1));
  const std::string bad = a.get("on-bad-image", "stop");
  if (bad != "skip" && bad != "stop") throw UsageError{"--on-bad-image expects skip or stop, got \"" + bad + "\""};
  const OnBadImage on_bad = bad == "skip" ? OnBadImage::skip : OnBadImage::stop;

  int threads = int(a.number("threads", std::max(1u, std::thread::hardware_concurrency())));
  threads = std::max(threads, 1);
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  Eigen::setNbThreads(threads);

  // Architecture.
  gradcam::Architecture arch = gradcam::seed_architecture();
  if (a.has("arch")) {
    std::ifstream f(a.get("arch"));
    if (!f) throw UsageError{a.get("arch") + ": cannot read"};
    std::stringstream ss;
    ss << f.rdbuf();
    auto parsed = gradcam::parse_architecture(ss.str());
    if (!parsed) {
      std::fprintf(stderr, "error: %s: %s\n", a.get("arch").c_str(), parsed.error().c_str());
      return 1;
    }
    arch = *parsed;
  }
  auto plan_r = make_plan(arch);
  if (!plan_r) {
    std::fprintf(stderr, "error: %s\n", plan_r.error().c_str());
    return 1;
  }
  const Plan& plan = *plan_r;
  if (arch.classes.empty()) arch.classes = gradcam::cifar10_classes();

  // Data.
  LoadReport report;
  auto all = load_cifar10(a.get("data"), "train", arch.classes, on_bad, threads, &report);
  if (!all) {
    std::fprintf(stderr, "error: %s\n", all.error().c_str());
    return 1;
  }
  for (const auto& s : report.skipped) std::fprintf(stderr, "skipped bad image: %s\n", s.c_str());
  if (all->height != arch.height || all->width != arch.width || all->channels != arch.channels) {
    std::fprintf(stderr, "error: data is %dx%dx%d but the architecture's input is %dx%dx%d\n", all->height,
                 all->width, all->channels, arch.height, arch.width, arch.channels);
    return 1;
  }
  Dataset train, val;
  split_validation(*all, int(a.number("val", 5000)), seed, train, val);
  if (a.has("limit-train")) {
    const int n = std::clamp(int(a.number("limit-train", train.size())), 1, train.size());
    train.labels.resize(size_t(n));
    train.pixels.resize(size_t(n * train.image_size()));
  }
  std::fprintf(stderr, "data: %s, %d train + %d validation images (%s, loaded in %.1fs%s)\n", a.get("data").c_str(),
               train.size(), val.size(), report.format.c_str(), report.seconds,
               report.skipped.empty() ? "" : (", " + std::to_string(report.skipped.size()) + " skipped").c_str());
  if (train.size() == 0) throw UsageError{"no training images left after the validation split"};

  // Backend and state.
  const std::string backend_name = a.get("backend", "cpu");
  std::unique_ptr<Backend> backend;
  if (backend_name == "cpu") {
    backend = make_cpu_backend(plan, recipe.batch);
  } else if (backend_name == "cuda") {
    auto b = make_cuda_backend(plan, recipe.batch, a.has("tf32"));
    if (!b) {
      std::fprintf(stderr, "error: %s\n", b.error().c_str());
      return 1;
    }
    backend = std::move(*b);
  } else {
    throw UsageError{"--backend expects cpu or cuda, got \"" + backend_name + "\""};
  }

  const fs::path out = a.get("out", "data/runs/" + recipe.name);
  fs::create_directories(out);
  const std::string ckpt_path = (out / "checkpoint.bin").string(), metrics_path = (out / "metrics.json").string(),
                    model_path = (out / "model.safetensors").string();

  const int64_t steps_per_epoch = (train.size() + recipe.batch - 1) / recipe.batch;
  Schedule schedule;
  schedule.kind = recipe.schedule;
  schedule.peak_lr = recipe.lr;
  schedule.warmup_steps = int64_t(recipe.warmup_epochs * double(steps_per_epoch));
  schedule.total_steps = steps_per_epoch * recipe.epochs;

  TrainState state;
  json history = json::array();
  int start_epoch = 0;
  int64_t step = 0;
  double best_val = -1, wall_before = 0;
  int best_epoch = 0;
  const std::string arch_json = gradcam::architecture_to_json(arch);
  if (a.has("resume")) {
    json info;
    gradcam::Status s = load_checkpoint(ckpt_path, plan.num_params, info, state);
    if (!s) {
      std::fprintf(stderr, "error: %s\n", s.error().c_str());
      return 1;
    }
    if (info.value("architecture", "") != arch_json) {
      std::fprintf(stderr, "error: %s was written for a different architecture\n", ckpt_path.c_str());
      return 1;
    }
    if (info.value("recipe", json::object()).value("name", "") != recipe.name)
      std::fprintf(stderr, "warning: the checkpoint was written by recipe %s\n",
                   info["recipe"].value("name", "?").c_str());
    start_epoch = info.at("epoch").get<int>();
    step = info.at("step").get<int64_t>();
    best_val = info.value("best_val_accuracy", -1.0);
    best_epoch = info.value("best_epoch", 0);
    wall_before = info.value("wall_seconds", 0.0);
    history = info.value("history", json::array());
    std::fprintf(stderr, "resumed from %s after epoch %d (step %lld)\n", ckpt_path.c_str(), start_epoch,
                 (long long)step);
  } else {
    state.params.assign(size_t(plan.num_params), 0.f);
    state.m.assign(size_t(plan.num_params), 0.f);
    state.v.assign(size_t(plan.num_params), 0.f);
    init_params(plan, seed, state.params.data());
  }
  backend->set_state(state);

  json metrics;
  metrics["recipe"] = recipe_to_json(recipe);
  metrics["seed"] = seed;
  metrics["backend"] = backend->name();
  const std::string machine = machine_description(threads), device = backend->device();
  metrics["machine"] = machine;
  if (!device.empty()) metrics["device"] = device;
  metrics["data"] = {{"path", a.get("data")}, {"format", report.format}, {"train", train.size()},
                     {"validation", val.size()}, {"skipped_bad_images", report.skipped.size()}};
  metrics["parameters"] = plan.num_params;
  std::fprintf(stderr, "recipe %s: %d epochs, batch %d, %s on %s; %lld parameters; writing %s\n",
               recipe.name.c_str(), recipe.epochs, recipe.batch, backend->name().c_str(),
               (device.empty() ? machine : device).c_str(),
               (long long)plan.num_params, out.string().c_str());

  auto save_best_model = [&](const TrainState& s, int epoch, double val_acc) {
    gradcam::Model m = to_model(plan, s.params.data());
    m.arch = arch;
    m.metadata["trained"] = "true";
    m.metadata["trainer"] = "gradcam trainer (trainer/)";
    m.metadata["recipe"] = recipe.name;
    m.metadata["epoch"] = std::to_string(epoch);
    m.metadata["validation_accuracy"] = std::to_string(val_acc);
    m.metadata["dataset"] = "CIFAR-10 (" + report.format + ")";
    gradcam::Status st = gradcam::save_model_file(m, model_path);
    if (!st) std::fprintf(stderr, "error: %s\n", st.error().c_str());
  };

  // The epochs.
  std::vector<float> x(size_t(recipe.batch * train.image_size()));
  std::vector<int> labels(size_t(recipe.batch)), order(size_t(train.size()));
  const auto run_start = std::chrono::steady_clock::now();
  for (int epoch = start_epoch; epoch < recipe.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed * 1000003u + uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    ProgressBar bar(epoch + 1, recipe.epochs, train.size());
    double loss_sum = 0;
    long correct = 0, seen = 0;
    float lr = 0;
    for (int s = 0; s < train.size(); s += recipe.batch, ++step) {
      const int B = std::min(recipe.batch, train.size() - s);
      const uint64_t step_seed = mix64(seed ^ (uint64_t(step) * 0x9e3779b97f4a7c15ull));
      make_batch(train, order.data() + s, B, arch.scale, recipe.augment, step_seed, x.data(), labels.data());
      BatchStats st = backend->forward_backward(x.data(), labels.data(), B, step_seed, recipe.label_smoothing);
      if (!std::isfinite(st.loss)) {
        std::fprintf(stderr, "\nerror: loss became %f at step %lld (epoch %d): lower --lr\n", st.loss,
                     (long long)step, epoch + 1);
        return 1;
      }
      lr = schedule.lr(step);
      backend->optimizer_step(recipe.optimizer, lr, step + 1);
      loss_sum += double(st.loss) * B;
      correct += st.correct;
      seen += B;
      bar.update(int(seen), loss_sum / seen, double(correct) / seen, seen == train.size());
    }
    const double train_seconds = bar.seconds();
    EvalResult v = evaluate(*backend, val, recipe.batch, arch.scale, plan.num_classes);
    const double epoch_seconds = bar.seconds();
    backend->get_state(state);
    const bool improved = val.size() == 0 || v.accuracy > best_val;
    if (improved) {
      best_val = v.accuracy;
      best_epoch = epoch + 1;
      save_best_model(state, epoch + 1, v.accuracy);
    }
    const double wall = wall_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    history.push_back({{"epoch", epoch + 1}, {"train_loss", loss_sum / seen}, {"train_accuracy", double(correct) / seen},
                       {"val_loss", v.loss}, {"val_accuracy", v.accuracy}, {"lr", lr}, {"seconds", epoch_seconds},
                       {"images_per_second", double(seen) / train_seconds}});
    std::fprintf(stderr, "epoch %d/%d: train loss %.4f acc %.4f | val loss %.4f acc %.4f%s | %.0fs (%.0f img/s) | total %s\n",
                 epoch + 1, recipe.epochs, loss_sum / seen, double(correct) / seen, v.loss, v.accuracy,
                 improved ? " (best)" : "", epoch_seconds, double(seen) / train_seconds, duration_text(wall).c_str());
    json info = {{"epoch", epoch + 1}, {"step", step}, {"best_val_accuracy", best_val}, {"best_epoch", best_epoch},
                 {"wall_seconds", wall}, {"recipe", recipe_to_json(recipe)}, {"architecture", arch_json},
                 {"history", history}};
    gradcam::Status cs = save_checkpoint(ckpt_path, info, state);
    if (!cs) std::fprintf(stderr, "warning: %s\n", cs.error().c_str());
    metrics["epochs"] = history;
    metrics["best_epoch"] = best_epoch;
    metrics["best_val_accuracy"] = best_val;
    metrics["wall_seconds"] = wall;
    write_json(metrics_path, metrics);
  }
  if (start_epoch >= recipe.epochs) std::fprintf(stderr, "nothing to train: the checkpoint is at epoch %d\n", start_epoch);
  metrics["epochs"] = history;

  // The best-validation weights are the run's model.
  auto best = gradcam::load_model_file(model_path);
  if (!best) {
    std::fprintf(stderr, "error: %s\n", best.error().c_str());
    return 1;
  }
  if (gradcam::Status st = from_model(plan, *best, state.params.data()); !st) {
    std::fprintf(stderr, "error: %s: %s\n", model_path.c_str(), st.error().c_str());
    return 1;
  }
  backend->set_state(state);
  if (a.has("model-out")) {
    fs::copy_file(model_path, a.get("model-out"), fs::copy_options::overwrite_existing);
    std::fprintf(stderr, "model: %s\n", a.get("model-out").c_str());
  }
  std::fprintf(stderr, "best validation accuracy %.4f at epoch %d; model %s\n", best_val, best_epoch,
               model_path.c_str());

  if (!a.has("no-test")) {
    LoadReport test_report;
    auto test = load_cifar10(a.get("data"), "test", arch.classes, on_bad, threads, &test_report);
    if (!test) {
      std::fprintf(stderr, "error: %s\n", test.error().c_str());
      return 1;
    }
    for (const auto& s : test_report.skipped) std::fprintf(stderr, "skipped bad image: %s\n", s.c_str());
    EvalResult t = evaluate(*backend, *test, recipe.batch, arch.scale, plan.num_classes);
    std::fprintf(stderr, "\ntest (%d images, %s): accuracy %.4f, loss %.4f\n", test->size(),
                 test_report.format.c_str(), t.accuracy, t.loss);
    json per_class = json::object();
    std::fprintf(stderr, "%-12s %8s   confusion (rows: true class, columns: predicted)\n", "class", "accuracy");
    for (int c = 0; c < plan.num_classes; ++c) {
      long row = 0;
      for (long n : t.confusion[size_t(c)]) row += n;
      const double acc = row ? double(t.confusion[size_t(c)][size_t(c)]) / row : 0.0;
      per_class[arch.classes[size_t(c)]] = acc;
      std::fprintf(stderr, "%-12s %8.4f  ", arch.classes[size_t(c)].c_str(), acc);
      for (long n : t.confusion[size_t(c)]) std::fprintf(stderr, " %5ld", n);
      std::fprintf(stderr, "\n");
    }
    metrics["test"] = {{"images", test->size()}, {"format", test_report.format}, {"accuracy", t.accuracy},
                       {"loss", t.loss}, {"per_class_accuracy", per_class}, {"confusion", t.confusion},
                       {"classes", arch.classes}, {"model", "best validation, epoch " + std::to_string(best_epoch)}};
  }
  write_json(metrics_path, metrics);
  std::fprintf(stderr, "metrics: %s\n", metrics_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n\n%s", e.message.c_str(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
