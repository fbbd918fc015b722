-- dashboard, traffic over time: bytes of OK records per hour of `start`, in, out and of
-- unknown direction (the sums of interface-traffic, per hour), for the {top} ENIs with the
-- most bytes in the range; the others are summed as 'other'.
WITH h AS (
  SELECT interface_id,
         start / 3600 * 3600 AS hour,
         COALESCE(SUM(CASE WHEN direction = 'ingress' THEN bytes END), 0) AS bytes_in,
         COALESCE(SUM(CASE WHEN direction = 'egress' THEN bytes END), 0) AS bytes_out,
         COALESCE(SUM(CASE WHEN direction IS NULL THEN bytes END), 0) AS bytes_unknown_direction
  FROM flows_unique
  WHERE log_status = 'OK' AND interface_id IS NOT NULL
  GROUP BY interface_id, start / 3600 * 3600
),
top AS (
  SELECT interface_id FROM h
  GROUP BY interface_id
  ORDER BY SUM(bytes_in + bytes_out + bytes_unknown_direction) DESC, interface_id
  LIMIT {top}
)
SELECT to_timestamp_seconds(h.hour) AS hour_start,
       CASE WHEN t.interface_id IS NULL THEN 'other' ELSE CAST(h.interface_id AS VARCHAR) END AS interface_id,
       SUM(h.bytes_in) AS bytes_in,
       SUM(h.bytes_out) AS bytes_out,
       SUM(h.bytes_unknown_direction) AS bytes_unknown_direction,
       SUM(h.bytes_in + h.bytes_out + h.bytes_unknown_direction) AS bytes
FROM h
LEFT JOIN top t ON t.interface_id = h.interface_id
GROUP BY 1, 2
ORDER BY 1, 2
