-- log-health: per ENI and hour, how complete the logs are. NODATA records mean no traffic in
-- an interval; SKIPDATA records mean records were lost. coverage_ratio is the share of the
-- hour's minutes in which some record of the ENI starts (with 1-minute aggregation, 1.0 means
-- every interval was logged).
SELECT interface_id,
       date,
       hour,
       COUNT(*) AS records,
       COUNT(*) FILTER (WHERE log_status = 'OK') AS ok_records,
       COUNT(*) FILTER (WHERE log_status = 'NODATA') AS records_nodata,
       COUNT(*) FILTER (WHERE log_status = 'SKIPDATA') AS records_skipdata,
       COUNT(DISTINCT start / 60) AS minutes_with_records,
       CAST(COUNT(DISTINCT start / 60) AS DOUBLE) / 60.0 AS coverage_ratio,
       to_timestamp_seconds(MIN(start)) AS first_seen,
       to_timestamp_seconds(MAX("end")) AS last_seen
FROM flows
WHERE interface_id IS NOT NULL
GROUP BY interface_id, date, hour
ORDER BY date, hour, interface_id
