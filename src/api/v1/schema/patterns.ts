/**
 * The seed's patterns (000_8bb16af877f79126.txt) as the regular expressions they mean. The seed prints
 * them from JSON, so some backslashes appear doubled there; escapes that Ajv's unicode mode refuses
 * (`\:`, `\@`) are written as the plain characters they stand for — same language, valid syntax.
 */
export const P = {
  description: String.raw`^[a-zA-Z0-9.,?\s\\\/'"()[\];` + '`' + String.raw`%^&*\-_:!]+$`,
  tag: String.raw`^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$`,
  plan: String.raw`^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$`,
  resourceId: String.raw`^[a-zA-Z](-?[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*)?$`,
  serviceName: String.raw`^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$`,
  imagePath: String.raw`^(?:(?:https?:\/\/)?([a-zA-Z0-9\-]+\.[a-zA-Z0-9\.\-]+)(\/v1)?)?(?:\/)?([a-zA-Z/-9\.\-_]+)(?::([a-zA-Z/-9\.\-_:]+)|@([a-zA-Z/-9\.\-_:]+))$`,
  credentialsId: String.raw`^[A-Za-z0-9-]+$`,
  portName: String.raw`^[a-zA-Z](-?[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*)?$`,
  username: String.raw`^[a-zA-Z](-?[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*)?$`,
  headerName: String.raw`^[a-zA-Z0-9_\-%$+]+$`,
  securePath: String.raw`^\/([_a-zA-Z0-9-&?=.]*)((\/[_a-zA-Z0-9-&?=.]+)*(\/)?)?$`,
  healthPath: String.raw`^\/([a-zA-Z0-9-._]+\/)*[a-zA-Z0-9-._]+$`,
  metricsPath: String.raw`^\/([_a-zA-Z0-9-&?=.]*)((\/[_a-zA-Z0-9-&?=.]+)*(\/)?)?$`,
  metricName: String.raw`[a-zA-Z_:][a-zA-Z0-9_:]*$`,
} as const;
