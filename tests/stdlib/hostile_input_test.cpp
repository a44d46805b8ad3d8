// Files and values built to break readers: sizes and offsets that wrap around
// 2^64, headers that blew a regex's stack, negative shapes, CSV quoting, a
// 50 MB cell, batch arithmetic that overflows, a model that reduces over its
// batch. Each is an error that names the file and the problem, never a crash,
// a tensor of heap bytes or a silently wrong value.
#include <fstream>

#include "stdlib/attr/path_integral.hpp"
#include "stdlib_fixture.hpp"

namespace pipette {
namespace {

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

std::string safetensors(const std::string& header, size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\x07');
}

TEST_F(Stdlib, SafetensorsOffsetsThatWrapAroundAreRefused) {
  // 8 bytes of data; offsets [2^64 - 8, 8] pass a wrapping `data + end > size`
  // check and copied pipette's own heap into the tensor.
  std::string wrap = R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[18446744073709551608,8]}})";
  write_bytes(dir_ / "wrap.safetensors", safetensors(wrap, 8));
  std::string huge = R"({"t":{"dtype":"U8","shape":[16],"data_offsets":[18446744073709551600,0]}})";
  write_bytes(dir_ / "huge.safetensors", safetensors(huge, 8));
  std::string neg = R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})";
  write_bytes(dir_ / "neg.safetensors", safetensors(neg, 8));
  std::string big = R"({"t":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
  write_bytes(dir_ / "big.safetensors", safetensors(big, 8));
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("wrap.safetensors"))").find("offsets that do not match"),
            std::string::npos);
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("huge.safetensors"))").find("offsets that do not match"),
            std::string::npos);
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("neg.safetensors"))").find("impossible shape"), std::string::npos);
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("big.safetensors"))").find("impossible shape"), std::string::npos);
  // And a good one still loads.
  write_bytes(dir_ / "ok.safetensors",
              safetensors(R"({"t":{"dtype":"U8","shape":[2,4],"data_offsets":[0,8]}})", 8));
  auto e = run(R"(report "x" = tensor.sum(tensor.load("ok.safetensors")))");
  EXPECT_EQ(report(e, "x").item<int64_t>(), 8 * 7);
}

std::string npy(const std::string& dict, const std::string& data, char version = 1) {
  std::string out("\x93NUMPY", 6);
  out += version;
  out += '\0';
  std::string header = dict + "\n";
  if (version == 1) {
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
  } else {
    out += u64_le(header.size()).substr(0, 4);
  }
  return out + header + data;
}

TEST_F(Stdlib, NpyHeadersAreParsedWithoutARegexAndShapesAreChecked) {
  at::Tensor v = at::arange(6, at::kFloat);
  std::string data(static_cast<const char*>(v.data_ptr()), 24);
  // 60 KB of spaces inside the dict (valid for numpy) crashed a recursive regex.
  std::string spaced = "{'descr': '<f4', " + std::string(60000, ' ') + "'fortran_order': False, 'shape': (2, 3), }";
  write_bytes(dir_ / "spaced.npy", npy(spaced, data, 2));
  auto e = run(R"(report "x" = tensor.load("spaced.npy"))");
  EXPECT_TRUE(report(e, "x").equal(v.view({2, 3})));
  // A long shape: 20000 ones.
  std::string ones;
  for (int i = 0; i < 20000; ++i) ones += "1, ";
  write_bytes(dir_ / "long.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (" + ones + "6,), }", data, 2));
  e = run(R"(report "x" = tensor.sum(tensor.load("long.npy")))");
  EXPECT_FLOAT_EQ(report(e, "x").item<float>(), 15.0f);
  // (-5,) was read as (5,).
  write_bytes(dir_ / "neg.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-5,), }", data));
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("neg.npy"))").find("negative size"), std::string::npos);
  // More elements than bytes, and a product that overflows.
  write_bytes(dir_ / "short.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", data));
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("short.npy"))").find("truncated"), std::string::npos);
  write_bytes(dir_ / "wrap.npy",
              npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data));
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("wrap.npy"))").find("truncated"), std::string::npos);
  write_bytes(dir_ / "bad.npy", npy("{'descr': '<f4', 'shape': (2, 3)", data));
  EXPECT_NE(run_errors(R"(report "x" = tensor.load("bad.npy"))").find("malformed .npy header"), std::string::npos);
}

TEST_F(Stdlib, CsvQuotingFollowsRfc4180AndBadCellsAreQuotedShort) {
  // "1,5" is one cell (which is not a number), not two columns; quoted numbers
  // and a quoted header with a comma read as they should.
  std::ofstream(dir_ / "q.csv") << "\"a,b\",label\n\"1.5\",2\n\"2.5\",\"3\"\r\n";
  auto e = run(R"(let t = data.csv("q.csv")
report "f" = tensor.sum(t.features)
report "y" = tensor.sum(t.labels))");
  EXPECT_DOUBLE_EQ(report(e, "f").item<double>(), 4.0);
  EXPECT_EQ(report(e, "y").item<int64_t>(), 5);
  std::ofstream(dir_ / "comma.csv") << "a,label\n\"1,5\",2\n";
  std::string err = run_errors(R"(report "s" = data.csv("comma.csv").features)");
  EXPECT_NE(err.find("comma.csv:2: column 'a' holds '1,5', not a number"), std::string::npos) << err;
  // A 50 MB cell is quoted as an excerpt, in the error and everywhere it goes.
  {
    std::ofstream big(dir_ / "big.csv");
    big << "a,label\n" << std::string(50 << 20, 'z') << ",1\n";
  }
  err = run_errors(R"(report "s" = data.csv("big.csv").features)");
  EXPECT_NE(err.find("more bytes)"), std::string::npos);
  EXPECT_LT(err.size(), 1000u);
}

TEST_F(Stdlib, BatchArithmeticThatOverflowsIsAnError) {
  // 2^62 * 4 wrapped to 0 and returned the whole dataset as "batch 4".
  std::string err = run_errors(
      R"(report "b" = data.batch(data.fashion_mnist(split="test", limit=10), size=4611686018427387904, index=4).labels)");
  EXPECT_NE(err.find("starts past the end"), std::string::npos) << err;
  auto e = run(R"(report "b" = data.batch(data.fashion_mnist(split="test", limit=10), size=4, index=2).labels)");
  EXPECT_EQ(report(e, "b").size(0), 2);  // the last, short batch
}

TEST_F(Stdlib, AModelThatReturnsOneRowForABatchIsRefused) {
  save_module("sum.pt", {}, "def forward(self, x):\n    return torch.flatten(x, 1).sum(0, keepdim=True)\n");
  save(at::rand({8, 3}), "x.pt");
  std::string err = run_errors(R"(report "p" = model.predict(model.load("sum.pt"), tensor.load("x.pt")))");
  EXPECT_NE(err.find("for a batch of 8 inputs of shape [*, 3]; it must return one row of outputs per input"), std::string::npos) << err;
}

// torch.save's legacy format around a hostile object pickle: three small
// pickles before it (magic number, protocol, system info), an empty list of
// storage keys after it.
std::string legacy_pt(const std::string& object) {
  std::string small("\x80\x02K\x01.", 5);
  return small + small + small + "\x80\x02" + object + "." + std::string("\x80\x02].", 4);
}

TEST_F(Stdlib, PicklesThatNestDeeplyShareBillionsOrHoldThemselvesAreRefused) {
  // A tuple inside a tuple a million times: recursion in copies and
  // destructors overflowed the stack.
  write_bytes(dir_ / "deep.pt", legacy_pt(")" + std::string(1000000, '\x85')));
  // One list shared twice, forty times over: 2^40 values ("billion laughs").
  // (Literals with NUL bytes are std::string literals; "\x00" "a" keeps the
  // escape from swallowing a following hex digit.)
  using namespace std::string_literals;
  std::string laughs = "]q\x00"s;
  for (int i = 0; i < 40; ++i) laughs += "h\x00h\x00\x86q\x00"s;
  write_bytes(dir_ / "laughs.pt", legacy_pt(laughs));
  // A dict that holds itself: d["a"] = d.
  write_bytes(dir_ / "cycle.pt", legacy_pt("}q\x00X\x01\x00\x00\x00" "ah\x00s"s));
  EXPECT_NE(run_errors(R"(report "x" = load("deep.pt"))").find("nested more than 100 deep"), std::string::npos);
  EXPECT_NE(run_errors(R"(report "x" = load("laughs.pt"))").find("more than 4194304 values"), std::string::npos);
  EXPECT_NE(run_errors(R"(report "x" = load("cycle.pt"))").find("or holding themselves"), std::string::npos);
  // A list memoized before its items are appended is the full list when
  // recalled, as in Python ({"a": L, "b": L}); a copy was stale and empty.
  std::string shared = "}q\x00(X\x01\x00\x00\x00" "a]q\x01(K\x07K\x08" "eX\x01\x00\x00\x00" "bh\x01u"s;
  write_bytes(dir_ / "shared.pt", legacy_pt(shared));
  auto e = run(R"(report "b" = load("shared.pt").b)");
  ASSERT_EQ(e.reports.size(), 1u);
  const Value& b = e.reports[0].second;
  ASSERT_TRUE(b.isList());
  ASSERT_EQ(b.toListRef().size(), 2u);
  EXPECT_EQ(b.toListRef()[1].toInt(), 8);
}

TEST(GaussLegendre, ExactForPolynomialsUpToDegreeTwoNMinusOne) {
  for (int64_t n : {1, 2, 3, 4, 7, 50, 301}) {
    stdlib::Quadrature q = stdlib::quadrature("gausslegendre", n);
    ASSERT_EQ(q.alphas.size(), static_cast<size_t>(n));
    for (size_t i = 1; i < q.alphas.size(); ++i) ASSERT_LT(q.alphas[i - 1], q.alphas[i]);
    for (int64_t k = 0; k <= std::min<int64_t>(2 * n - 1, 40); ++k) {
      double integral = 0;
      for (size_t i = 0; i < q.alphas.size(); ++i) integral += q.weights[i] * std::pow(q.alphas[i], k);
      EXPECT_NEAR(integral, 1.0 / static_cast<double>(k + 1), 1e-13) << "n=" << n << " k=" << k;
    }
  }
  // Two points: (1 -+ 1/sqrt(3)) / 2, weights 1/2.
  stdlib::Quadrature two = stdlib::quadrature("gausslegendre", 2);
  EXPECT_NEAR(two.alphas[0], (1 - 1 / std::sqrt(3.0)) / 2, 1e-15);
  EXPECT_NEAR(two.weights[1], 0.5, 1e-15);
}

TEST(GaussLegendre, ManyStepsNeedLinearMemoryAndStopWhenCancelled) {
  // 20000 nodes: the dense eigenproblem needed ~6 GB; Newton's method needs the nodes.
  stdlib::Quadrature q = stdlib::quadrature("gausslegendre", 20000);
  double sum = 0, moment = 0;
  for (size_t i = 0; i < q.alphas.size(); ++i) sum += q.weights[i], moment += q.weights[i] * q.alphas[i] * q.alphas[i];
  EXPECT_NEAR(sum, 1.0, 1e-11);
  EXPECT_NEAR(moment, 1.0 / 3.0, 1e-11);
  Node n;
  std::atomic<bool> stop{true};
  OpContext ctx{n, c10::Device(c10::kCPU), 0, {}, {}, &stop, 0, {}, {}};
  EXPECT_THROW(stdlib::quadrature("gausslegendre", 1000000, &ctx), OpError);
}

}  // namespace
}  // namespace pipette
