// Original file: switchboard/v1/chat.proto

import type { LeaveReason as _switchboard_v1_LeaveReason, LeaveReason__Output as _switchboard_v1_LeaveReason__Output } from '../../switchboard/v1/LeaveReason';

export interface MemberLeft {
  'name'?: (string);
  'reason'?: (_switchboard_v1_LeaveReason);
}

export interface MemberLeft__Output {
  'name': (string);
  'reason': (_switchboard_v1_LeaveReason__Output);
}
