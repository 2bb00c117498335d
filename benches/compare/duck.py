"""DuckDB reference for dropscope's benchmarks (benches/compare/run.sh).

usage: duck.py ingest FILE            read JSON Lines, extract the device id, materialise the events
       duck.py sessions FILE OUT      the same, then sessions with lead() per device, written to Parquet
       duck.py sessions-parquet FILE OUT   sessions from dropscope's events Parquet
Prints one JSON line: {"rows": ..., "seconds": ...}.
"""
import json
import sys
import time

import duckdb

COLUMNS = ("{time: 'VARCHAR', resourceId: 'VARCHAR', operationName: 'VARCHAR', category: 'VARCHAR', "
           "level: 'VARCHAR', resultType: 'VARCHAR', resultDescription: 'VARCHAR', properties: 'VARCHAR', "
           "location: 'VARCHAR'}")

EVENTS = f"""
CREATE TABLE events AS
SELECT CAST(time AS TIMESTAMPTZ) AS time,
       json_extract_string(properties, '$.deviceId') AS device_id,
       operationName AS operation,
       level,
       TRY_CAST(resultType AS UINTEGER) AS result_type,
       json_extract_string(properties, '$.protocol') AS protocol,
       json_extract_string(properties, '$.maskedIpAddress') AS masked_ip,
       json_extract_string(properties, '$.sdkVersion') AS sdk_version
FROM read_json(?, format = 'newline_delimited', columns = {COLUMNS}, ignore_errors = true)
"""

SESSIONS = """
COPY (
  SELECT device_id, time AS connect_time, next_time AS disconnect_time, epoch_ms(next_time) - epoch_ms(time) AS duration_ms
  FROM (
    SELECT device_id, time, operation,
           lead(time) OVER (PARTITION BY device_id ORDER BY time) AS next_time,
           lead(operation) OVER (PARTITION BY device_id ORDER BY time) AS next_op
    FROM events)
  WHERE operation = 'deviceConnect'
) TO ? (FORMAT parquet)
"""


def main():
    mode, path = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    start = time.perf_counter()
    if mode == "sessions-parquet":
        con.execute("CREATE TABLE events AS SELECT device_id, CAST(time AS TIMESTAMPTZ) AS time, CASE operation WHEN 'connect' THEN 'deviceConnect' ELSE 'deviceDisconnect' END AS operation FROM read_parquet(?)", [path])
    else:
        con.execute(EVENTS, [path])
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    if mode.startswith("sessions"):
        con.execute(SESSIONS.replace("?", "'" + sys.argv[3].replace("'", "''") + "'"))
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - start, 3)}))


if __name__ == "__main__":
    main()
