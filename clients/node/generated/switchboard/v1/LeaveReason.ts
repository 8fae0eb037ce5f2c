// Original file: switchboard/v1/chat.proto

export const LeaveReason = {
  LEAVE_REASON_UNSPECIFIED: 'LEAVE_REASON_UNSPECIFIED',
  QUIT: 'QUIT',
  DISCONNECTED: 'DISCONNECTED',
  SERVER_SHUTDOWN: 'SERVER_SHUTDOWN',
} as const;

export type LeaveReason =
  | 'LEAVE_REASON_UNSPECIFIED'
  | 0
  | 'QUIT'
  | 1
  | 'DISCONNECTED'
  | 2
  | 'SERVER_SHUTDOWN'
  | 3

export type LeaveReason__Output = typeof LeaveReason[keyof typeof LeaveReason]
