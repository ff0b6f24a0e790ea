/** This package's version, as instruments and spans report it (checked against package.json). */
export const SDK_VERSION = '0.1.0'
