// data.* over files: image directories (the photographs of python3-skimage,
// class folders), CSV tables, and normalisation of any dataset.
#include <ATen/ATen.h>

#include <algorithm>

#include "engine/dataset.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/data/file_readers.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

namespace fs = std::filesystem;

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga" || ext == ".gif";
}

std::vector<fs::path> images_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_image(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Image files decoded when a consumer reads them; a file that does not decode
// fails the read with its name.
class ImageFiles final : public Dataset {
 public:
  ImageFiles(std::vector<fs::path> files, at::Tensor labels, int channels, int64_t size, std::string summary)
      : files_(std::move(files)), labels_(std::move(labels)), channels_(channels), size_(size),
        summary_(std::move(summary)) {}

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  std::vector<std::string> fields() const override { return {"images", "labels"}; }
  std::string summary() const override { return summary_; }

 protected:
  Value read(const at::Tensor& idx) const override {
    std::vector<at::Tensor> images;
    auto ids = idx.accessor<int64_t, 1>();
    for (int64_t i = 0; i < idx.size(0); ++i)
      images.push_back(read_image(files_[static_cast<size_t>(ids[i])], channels_, size_));
    return make_record({{"images", Value(at::stack(images, 0))}, {"labels", Value(labels_.index_select(0, idx))}});
  }

 private:
  std::vector<fs::path> files_;
  at::Tensor labels_;
  int channels_;
  int64_t size_;
  std::string summary_;
};

// A statistic per channel [C] (or one for all, [1]) shaped to broadcast over
// a batch x [N, C, ...].
at::Tensor per_channel(const at::Tensor& stat, const at::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  if (x.dim() >= 2) shape[1] = stat.numel();
  return stat.to(x.device(), x.scalar_type()).view(x.dim() >= 2 ? shape : std::vector<int64_t>{});
}

// (x - mean) / std on one field of another dataset, applied as examples are read.
class Normalized final : public Dataset {
 public:
  Normalized(DatasetPtr base, std::string field, at::Tensor mean, at::Tensor std)
      : base_(std::move(base)), field_(std::move(field)), mean_(std::move(mean)), std_(std::move(std)) {}
  int64_t size() const override { return base_->size(); }
  std::vector<std::string> fields() const override { return base_->fields(); }
  std::string summary() const override { return base_->summary() + ", normalised"; }

 protected:
  Value read(const at::Tensor& idx) const override {
    std::vector<std::pair<std::string, Value>> fields;
    for (const auto& kv : base_->gather(idx).toGenericDict()) {
      Value v = kv.value();
      if (kv.key().toStringRef() == field_) {
        at::Tensor x = v.toTensor();
        v = Value((x - per_channel(mean_, x)) / per_channel(std_, x));
      }
      fields.emplace_back(kv.key().toStringRef(), v);
    }
    return make_record(fields);
  }

 private:
  DatasetPtr base_;
  std::string field_;
  at::Tensor mean_, std_;
};

}  // namespace

void register_data_files(OpLibrary& lib) {
  auto image_params = [](OpSignature& s) -> OpSignature& {
    return s.param("size", "int", Operand::integer(64), "Side of the square images (centre crop, then resize)")
        .range(1)
        .param("channels", "int", Operand::integer(3), "3 = RGB, 1 = gray")
        .range(1, 3)
        .returns("dataset{images: tensor, labels: tensor}", "images float [N, C, size, size] in [0, 1]");
  };
  OpSignature images("data.images",
                     "The images (PNG, JPEG, BMP, GIF, TGA) of one directory, sorted by name, e.g. the photographs "
                     "that ship with python3-skimage. Decoded when read. `labels` is each image's position.");
  images.param("dir", "string", Operand::string("/usr/lib/python3/dist-packages/skimage/data"),
               "Directory of images; relative paths are relative to the script")
      .optional("names", "list<string>",
                "Only these files, in this order (skimage's directory also holds a deliberately truncated JPEG)");
  lib.define(image_params(images), [](const OpArgs& a, OpContext& ctx) {
    fs::path dir = ctx.input_path(a.string("dir"));
    if (!fs::is_directory(dir)) throw OpError("'" + dir.string() + "' is not a directory");
    std::vector<fs::path> files;
    if (a.is_none("names")) {
      files = images_in(dir);
    } else {
      for (const auto& name : a["names"].toListRef()) {
        fs::path file = dir / name.toStringRef();
        if (!fs::is_regular_file(file)) throw OpError("there is no image '" + file.string() + "'");
        files.push_back(file);
      }
    }
    if (files.empty()) throw OpError("'" + dir.string() + "' holds no images");
    auto n = static_cast<int64_t>(files.size());
    return make_dataset(c10::make_intrusive<ImageFiles>(std::move(files), at::arange(n, at::kLong),
                                                        static_cast<int>(a.int_("channels")), a.int_("size"),
                                                        "images of " + dir.string()));
  });

  OpSignature folder("data.image_folder",
                     "Images in one subdirectory per class (as torchvision's ImageFolder): classes are the "
                     "subdirectory names in sorted order, `labels` their index.");
  folder.input("dir", "string", "Directory with one subdirectory of images per class");
  lib.define(image_params(folder), [](const OpArgs& a, OpContext& ctx) {
    fs::path dir = ctx.input_path(a.string("dir"));
    if (!fs::is_directory(dir)) throw OpError("'" + dir.string() + "' is not a directory");
    std::vector<fs::path> classes;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory()) classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    std::vector<fs::path> files;
    std::vector<int64_t> labels;
    for (size_t c = 0; c < classes.size(); ++c)
      for (auto& f : images_in(classes[c])) {
        files.push_back(f);
        labels.push_back(static_cast<int64_t>(c));
      }
    if (files.empty()) throw OpError("'" + dir.string() + "' has no class subdirectories with images");
    return make_dataset(c10::make_intrusive<ImageFiles>(std::move(files), at::tensor(labels, at::kLong),
                                                        static_cast<int>(a.int_("channels")), a.int_("size"),
                                                        "image folder " + dir.string()));
  });

  lib.define(OpSignature("data.csv",
                         "A numeric CSV table with a header row: `features` float [N, F] from every column but "
                         "LABEL, `labels` int64 [N] from LABEL. A cell that is not a number is an error naming "
                         "its line and column.")
                 .input("path", "string", "CSV file; relative paths are relative to the script")
                 .input_file()
                 .param("label", "string", Operand::string("label"), "Column of class labels")
                 .passes_nonfinite()
                 .returns("dataset{features: tensor, labels: tensor}"),
             [](const OpArgs& a, OpContext& ctx) {
               fs::path path = ctx.input_path(a.string("path"));
               Table t = read_csv(path);
               auto it = std::find(t.columns.begin(), t.columns.end(), a.string("label"));
               if (it == t.columns.end())
                 throw OpError("'" + path.string() + "' has no column '" + a.string("label") + "'");
               int64_t col = it - t.columns.begin();
               at::Tensor keep = at::arange(t.values.size(1), at::kLong);
               keep = keep.masked_select(keep.ne(col));
               return make_dataset(tensor_dataset({{"features", t.values.index_select(1, keep).to(at::kFloat)},
                                                   {"labels", t.values.select(1, col).round().to(at::kLong)}},
                                                  path.filename().string()));
             });

  lib.define(OpSignature("data.normalize",
                         "(x - mean) / std per channel (dimension 1) of one field, applied as examples are read. "
                         "Without mean and std, both are measured on the dataset's field.")
                 .input("data", "dataset", "The dataset")
                 .param("field", "string", Operand::string("images"), "Field to normalise")
                 .optional("mean", "float|list<float>", "Per-channel mean (e.g. [0.485, 0.456, 0.406])")
                 .optional("std", "float|list<float>", "Per-channel standard deviation")
                 .returns("dataset"),
             [](const OpArgs& a, OpContext&) {
               DatasetPtr d = a.dataset("data");
               std::string field = a.string("field");
               if (!d->has_field(field))
                 throw OpError("the dataset has no field '" + field + "'");
               // Given statistics, else measured on the field: per channel (dimension 1).
               at::Tensor mean = at::tensor(float_list(a, "mean"), at::kFloat);
               at::Tensor std = at::tensor(float_list(a, "std"), at::kFloat);
               if (mean.numel() == 0 || std.numel() == 0) {
                 at::Tensor x = d->column(field).to(at::kDouble);
                 std::vector<int64_t> others{0};
                 for (int64_t i = 2; i < x.dim(); ++i) others.push_back(i);
                 if (mean.numel() == 0) mean = (x.dim() >= 2 ? x.mean(others) : x.mean().view({1})).to(at::kFloat);
                 if (std.numel() == 0) std = (x.dim() >= 2 ? x.std(others, /*unbiased=*/true) : x.std().view({1})).to(at::kFloat);
               }
               if ((std.abs() < 1e-12).any().item<bool>()) throw OpError("a standard deviation is 0");
               return make_dataset(c10::make_intrusive<Normalized>(d, field, mean, std));
             });
}

}  // namespace pipette::stdlib
