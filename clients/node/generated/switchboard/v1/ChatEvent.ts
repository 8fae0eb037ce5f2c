// Original file: switchboard/v1/chat.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Welcome as _switchboard_v1_Welcome, Welcome__Output as _switchboard_v1_Welcome__Output } from '../../switchboard/v1/Welcome';
import type { MemberJoined as _switchboard_v1_MemberJoined, MemberJoined__Output as _switchboard_v1_MemberJoined__Output } from '../../switchboard/v1/MemberJoined';
import type { MemberLeft as _switchboard_v1_MemberLeft, MemberLeft__Output as _switchboard_v1_MemberLeft__Output } from '../../switchboard/v1/MemberLeft';
import type { ChatMessage as _switchboard_v1_ChatMessage, ChatMessage__Output as _switchboard_v1_ChatMessage__Output } from '../../switchboard/v1/ChatMessage';
import type { ListMembersResponse as _switchboard_v1_ListMembersResponse, ListMembersResponse__Output as _switchboard_v1_ListMembersResponse__Output } from '../../switchboard/v1/ListMembersResponse';
import type { Missed as _switchboard_v1_Missed, Missed__Output as _switchboard_v1_Missed__Output } from '../../switchboard/v1/Missed';
import type { ChatError as _switchboard_v1_ChatError, ChatError__Output as _switchboard_v1_ChatError__Output } from '../../switchboard/v1/ChatError';
import type { Goodbye as _switchboard_v1_Goodbye, Goodbye__Output as _switchboard_v1_Goodbye__Output } from '../../switchboard/v1/Goodbye';
import type { Long } from '@grpc/proto-loader';

export interface ChatEvent {
  'sequence'?: (number | string | Long);
  'time'?: (_google_protobuf_Timestamp | null);
  'welcome'?: (_switchboard_v1_Welcome | null);
  'member_joined'?: (_switchboard_v1_MemberJoined | null);
  'member_left'?: (_switchboard_v1_MemberLeft | null);
  'message'?: (_switchboard_v1_ChatMessage | null);
  'members'?: (_switchboard_v1_ListMembersResponse | null);
  'missed'?: (_switchboard_v1_Missed | null);
  'error'?: (_switchboard_v1_ChatError | null);
  'goodbye'?: (_switchboard_v1_Goodbye | null);
  'event'?: "welcome"|"member_joined"|"member_left"|"message"|"members"|"missed"|"error"|"goodbye";
}

export interface ChatEvent__Output {
  'sequence': (string);
  'time': (_google_protobuf_Timestamp__Output | null);
  'welcome'?: (_switchboard_v1_Welcome__Output | null);
  'member_joined'?: (_switchboard_v1_MemberJoined__Output | null);
  'member_left'?: (_switchboard_v1_MemberLeft__Output | null);
  'message'?: (_switchboard_v1_ChatMessage__Output | null);
  'members'?: (_switchboard_v1_ListMembersResponse__Output | null);
  'missed'?: (_switchboard_v1_Missed__Output | null);
  'error'?: (_switchboard_v1_ChatError__Output | null);
  'goodbye'?: (_switchboard_v1_Goodbye__Output | null);
  'event'?: "welcome"|"member_joined"|"member_left"|"message"|"members"|"missed"|"error"|"goodbye";
}
