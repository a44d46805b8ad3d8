#include "engine/offload.hpp"

#include <nlohmann/json.hpp>

namespace pipette {

std::string job_record_json(const JobRecord& j) {
  nlohmann::ordered_json o{{"executor", j.executor}, {"job_id", j.job_id}, {"host", j.host}, {"state", j.state},
                           {"exit_code", j.exit_code}, {"attempts", j.attempts}};
  if (j.queue_seconds >= 0) o["queue_seconds"] = j.queue_seconds;
  if (j.run_seconds >= 0) o["run_seconds"] = j.run_seconds;
  if (!j.log.empty()) o["log"] = j.log;
  return o.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace pipette
