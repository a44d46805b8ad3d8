// data.*: data sets that ship with Debian, and tensors from files.
#include <ATen/ATen.h>
#include <zlib.h>

#include <memory>
#include <mutex>

#include "engine/checked_size.hpp"
#include "engine/dataset.hpp"

#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

using GzFile = std::unique_ptr<gzFile_s, int (*)(gzFile)>;

// An IDX file (gzip'd or plain): big-endian magic and sizes, then unsigned bytes.
struct IdxHeader {
  std::vector<int64_t> shape;
};

IdxHeader read_idx_header(gzFile f, const std::filesystem::path& path, int expected_dims) {
  auto read_u32 = [&]() {
    unsigned char b[4];
    if (gzread(f, b, 4) != 4) throw OpError("'" + path.string() + "' is truncated");
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
  };
  uint32_t magic = read_u32();
  if ((magic >> 8) != 0x08 || static_cast<int>(magic & 0xff) != expected_dims)
    throw OpError("'" + path.string() + "' is not an IDX file of unsigned bytes with " + std::to_string(expected_dims) +
                  " dimensions");
  IdxHeader h;
  for (int i = 0; i < expected_dims; ++i) h.shape.push_back(read_u32());
  // The sizes are the file's claim: their product must fit, and no gzip'd file
  // inflates by more than 1032 times (deflate's limit), a plain one not at all.
  std::error_code ec;
  uint64_t file_bytes = std::filesystem::file_size(path, ec);
  auto bytes = checked_tensor_bytes(h.shape, 1);
  if (!bytes || (!ec && *bytes > file_bytes * 1032 + 4096))
    throw OpError("'" + path.string() + "' claims more data than the file can hold (a damaged IDX header?)");
  return h;
}

GzFile open_idx(const std::filesystem::path& path) {
  GzFile f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw OpError("cannot open '" + path.string() + "' (is dataset-fashion-mnist installed?)");
  return f;
}

// The first `count` examples of an IDX file, as bytes.
at::Tensor read_idx(const std::filesystem::path& path, int expected_dims, int64_t count) {
  GzFile f = open_idx(path);
  IdxHeader h = read_idx_header(f.get(), path, expected_dims);
  h.shape[0] = std::min(h.shape[0], count);
  at::Tensor t = at::empty(h.shape, at::kByte);
  int64_t bytes = t.numel();
  auto* p = static_cast<char*>(t.data_ptr());
  while (bytes > 0) {
    int chunk = static_cast<int>(std::min<int64_t>(bytes, 1 << 30));
    int got = gzread(f.get(), p, chunk);
    if (got <= 0) throw OpError("'" + path.string() + "' is truncated");
    p += got;
    bytes -= got;
  }
  return t;
}

// Fashion-MNIST, opened lazily: the op reads the two headers (so a missing or
// mismatched file fails at once), the pixels are read on first use and kept as
// bytes (a quarter of the floats); each batch becomes float in [0, 1] when read.
class FashionMnist final : public Dataset {
 public:
  FashionMnist(std::filesystem::path root, std::string split, int64_t limit)
      : root_(std::move(root)), split_(std::move(split)) {
    std::string prefix = split_ == "train" ? "train" : "t10k";
    images_path_ = root_ / (prefix + "-images-idx3-ubyte.gz");
    labels_path_ = root_ / (prefix + "-labels-idx1-ubyte.gz");
    int64_t n_images = read_idx_header(open_idx(images_path_).get(), images_path_, 3).shape[0];
    int64_t n_labels = read_idx_header(open_idx(labels_path_).get(), labels_path_, 1).shape[0];
    if (n_images != n_labels)
      throw OpError("'" + images_path_.string() + "' holds " + std::to_string(n_images) + " images but '" +
                    labels_path_.string() + "' " + std::to_string(n_labels) + " labels");
    size_ = limit > 0 ? std::min(limit, n_images) : n_images;
  }

  int64_t size() const override { return size_; }
  std::vector<std::string> fields() const override { return {"images", "labels"}; }
  std::string summary() const override {
    return "Fashion-MNIST " + split_ + " (" + std::to_string(size_) + " examples)";
  }

 protected:
  Value read(const at::Tensor& idx) const override {
    std::call_once(loaded_, [&] {
      bytes_ = read_idx(images_path_, 3, size_);
      labels_ = read_idx(labels_path_, 1, size_).to(at::kLong);
    });
    return make_record({{"images", Value(bytes_.index_select(0, idx).to(at::kFloat).div_(255.0).unsqueeze(1))},
                        {"labels", Value(labels_.index_select(0, idx))}});
  }

 private:
  std::filesystem::path root_, images_path_, labels_path_;
  std::string split_;
  int64_t size_ = 0;
  mutable std::once_flag loaded_;
  mutable at::Tensor bytes_, labels_;
};

// All example indices of a dataset of `n`, in random (seeded) or stored order.
at::Tensor example_order(bool shuffle, int64_t n, const OpContext& ctx) {
  return shuffle ? at::randperm(n, ctx.generator(), at::kLong) : at::arange(n, at::kLong);
}

}  // namespace

void register_data(OpLibrary& lib) {
  lib.define(OpSignature("data.fashion_mnist",
                         "Fashion-MNIST from Debian's dataset-fashion-mnist (idx files under "
                         "/usr/share/datasets/fashion-mnist), opened lazily: examples are read when a consumer "
                         "asks for them. `.images` is float in [0, 1], shape [N, 1, 28, 28]; `.labels` int64 [N].")
                 .param("split", "string", Operand::string("train"), "train (60,000 images) or test (10,000)")
                 .choices({"train", "test"})
                 .optional("limit", "int", "Keep only the first LIMIT examples")
                 .range(1)
                 .param("root", "string", Operand::string("/usr/share/datasets/fashion-mnist"),
                        "Directory of the idx files")
                 .compile_time()
                 .passes_nonfinite()
                 .returns("dataset{images: tensor, labels: tensor}", "a dataset of N examples"),
             [](const OpArgs& a, OpContext& ctx) {
               int64_t limit = a.is_none("limit") ? 0 : a.int_("limit");
               return make_dataset(c10::make_intrusive<FashionMnist>(ctx.input_path(a.string("root")),
                                                                     a.string("split"), limit));
             });

  lib.define(OpSignature("data.from_tensors",
                         "A dataset over tensors: each field of the record is one per-example field, all sharing "
                         "their first dimension (e.g. {images: x, labels: y}).")
                 .input("fields", "record", "Tensors with a common first dimension")
                 .passes_nonfinite()
                 .returns("dataset"),
             [](const OpArgs& a, OpContext&) {
               std::vector<std::pair<std::string, at::Tensor>> fields;
               for (const auto& kv : a["fields"].toGenericDict()) {
                 if (!kv.value().isTensor())
                   throw OpError("field '" + kv.key().toStringRef() + "' is a " + describe(kv.value()) +
                                 ", not a tensor");
                 fields.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
               }
               return make_dataset(tensor_dataset(std::move(fields), "tensors"));
             });

  lib.define(OpSignature("data.subset", "Examples [start, start + count) of a dataset, or a random COUNT of them.")
                 .input("data", "dataset", "The dataset")
                 .param("count", "int", Operand::integer(0), "How many examples; 0 keeps all from START")
                 .range(0)
                 .param("start", "int", Operand::integer(0), "The first example (without shuffle)")
                 .range(0)
                 .param("shuffle", "bool", Operand::boolean(false), "Take a random COUNT instead, in random order")
                 .optional("seed", "int", "Overrides the derived seed for shuffle")
                 .stochastic()
                 .passes_nonfinite()
                 .returns("dataset"),
             [](const OpArgs& a, OpContext& ctx) {
               DatasetPtr d = a.dataset("data");
               int64_t n = d->size(), start = a.int_("start"), count = a.int_("count");
               if (a.bool_("shuffle")) start = 0;
               else if (start > n) throw OpError("start " + std::to_string(start) + " is past the end of " + d->summary());
               at::Tensor idx = example_order(a.bool_("shuffle"), n, ctx);
               int64_t end = count == 0 ? n : std::min(n, start + count);
               return make_dataset(index_dataset(d, idx.slice(0, start, end), "subset of " + d->summary()));
             });

  lib.define(OpSignature("data.split", "Splits a dataset in two at random (or in order): {train, test}.")
                 .input("data", "dataset", "The dataset")
                 .param("fraction", "float", Operand::real(0.8), "Share of examples in `train`")
                 .range(0.0, 1.0)
                 .param("shuffle", "bool", Operand::boolean(true), "Shuffle before splitting")
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .passes_nonfinite()
                 .returns("record{train: dataset, test: dataset}"),
             [](const OpArgs& a, OpContext& ctx) {
               DatasetPtr d = a.dataset("data");
               int64_t n = d->size();
               at::Tensor idx = example_order(a.bool_("shuffle"), n, ctx);
               int64_t cut = static_cast<int64_t>(std::llround(a.float_("fraction") * static_cast<double>(n)));
               return make_record({{"train", make_dataset(index_dataset(d, idx.slice(0, 0, cut), "train split"))},
                                   {"test", make_dataset(index_dataset(d, idx.slice(0, cut, n), "test split"))}});
             });

  lib.define(OpSignature("data.batch", "One batch of a dataset as a record of tensors: examples [index*size, (index+1)*size).")
                 .input("data", "dataset", "The dataset")
                 .param("size", "int", Operand::integer(64), "Examples per batch")
                 .range(1)
                 .param("index", "int", Operand::integer(0), "Which batch")
                 .range(0)
                 .passes_nonfinite()
                 .returns("record"),
             [](const OpArgs& a, OpContext&) {
               DatasetPtr d = a.dataset("data");
               int64_t size = a.int_("size"), index = a.int_("index");
               // index * size overflows for size=2^62, index=4: checked, not wrapped.
               auto begin = checked_mul(index, size);
               if (!begin || *begin >= d->size())
                 throw OpError("batch " + std::to_string(index) + " of size " + std::to_string(size) +
                               " starts past the end of " + d->summary());
               return d->slice(*begin, *begin + std::min(size, d->size() - *begin));
             });
}

}  // namespace pipette::stdlib
