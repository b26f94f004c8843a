/**
 * Settings the CLI needs before the AWS SDK loads. main.ts imports this module first: ES modules
 * run their imports in order, so this runs before any SDK code does.
 */

// On Node 20 the SDK warns, once per process, that its releases after January 2027 will need
// Node 22. A CLI user cannot act on that mid-command, and it buries the command's own output.
// A user who wants it back sets the variable to anything but `true`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
