#include "cli/project_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include <cstdlib>

namespace pipette::cli {

namespace fs = std::filesystem;

namespace {

// A `.pipette/` anyone could have made (someone else's, in a directory anyone
// may write to, such as /tmp) would serve planted cache entries as results.
bool trusted(const fs::path& dir, const struct stat& dir_st) {
  struct stat st {};
  if (::stat((dir / ".pipette").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (st.st_uid == ::geteuid()) return true;
  return !(dir_st.st_mode & S_IWOTH) && !(st.st_mode & S_IWOTH);
}

}  // namespace

fs::path project_dir() {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (ec) return ".";
  const char* home_env = std::getenv("HOME");
  fs::path home = home_env && *home_env ? fs::weakly_canonical(home_env, ec) : fs::path();
  for (fs::path dir = cwd;; dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && trusted(dir, st)) return dir;
    if (fs::exists(dir / ".git", ec) || dir == home || dir == dir.root_path() || dir.parent_path() == dir) break;
  }
  // No project: the working directory, where `pipette run` creates `.pipette/`.
  // One that is there already and not to be trusted is refused, not used.
  if (fs::exists(cwd / ".pipette", ec))
    throw std::runtime_error((cwd / ".pipette").string() +
                             " belongs to another user in a directory anyone can write to, so its cache could hold "
                             "planted results; run from a directory of your own, or pass --cache, --db and --out");
  return cwd;
}

}  // namespace pipette::cli
