// Replays a fuzz corpus (files or directories) through the fuzz entry point, so
// that every input the fuzzer ever found interesting stays a regression test
// in a normal (non-clang) build.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (auto& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      files.push_back(argv[i]);
    }
  }
  // Hand-written adversarial inputs, in addition to the corpus.
  std::vector<std::string> extra = {
      std::string(200000, '('),
      std::string(200000, '"'),
      "let x = 1" + std::string(100000, '.') + "\n",
      [] {
        std::string s = "let x = tensor.random([1])";
        for (int i = 0; i < 20000; ++i) s += " |> tensor.mean";
        return s + "\nreport \"x\" = x\n";
      }(),
      [] {
        std::string s = "pipeline p0(x) { return tensor.mean(x) }\n";
        for (int i = 1; i < 60; ++i)
          s += "pipeline p" + std::to_string(i) + "(x) { return tensor.add(p" + std::to_string(i - 1) + "(x), p" +
               std::to_string(i - 1) + "(x)) }\n";
        return s + "report \"r\" = p59(tensor.random([1]))\n";
      }(),
      [] {
        std::string s;
        for (int i = 0; i < 30; ++i) s += "for a" + std::to_string(i) + " in [1, 2] {\n";
        s += "report \"x\" = 1\n";
        for (int i = 0; i < 30; ++i) s += "}\n";
        return s;
      }(),
  };
  size_t n = 0;
  double worst = 0;
  auto run = [&](const std::string& bytes, const std::string& name) {
    auto t0 = std::chrono::steady_clock::now();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > worst) worst = s;
    if (s > 5.0) std::fprintf(stderr, "slow input (%.1f s): %s\n", s, name.c_str());
    ++n;
  };
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    run(std::string((std::istreambuf_iterator<char>(in)), {}), f.string());
  }
  for (size_t i = 0; i < extra.size(); ++i) run(extra[i], "adversarial #" + std::to_string(i));
  std::printf("replayed %zu inputs, slowest %.3f s\n", n, worst);
  return worst > 5.0 ? 1 : 0;
}
