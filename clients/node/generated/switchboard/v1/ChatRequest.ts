// Original file: switchboard/v1/chat.proto

import type { Join as _switchboard_v1_Join, Join__Output as _switchboard_v1_Join__Output } from '../../switchboard/v1/Join';
import type { Say as _switchboard_v1_Say, Say__Output as _switchboard_v1_Say__Output } from '../../switchboard/v1/Say';
import type { ListMembersRequest as _switchboard_v1_ListMembersRequest, ListMembersRequest__Output as _switchboard_v1_ListMembersRequest__Output } from '../../switchboard/v1/ListMembersRequest';
import type { Quit as _switchboard_v1_Quit, Quit__Output as _switchboard_v1_Quit__Output } from '../../switchboard/v1/Quit';

export interface ChatRequest {
  'join'?: (_switchboard_v1_Join | null);
  'say'?: (_switchboard_v1_Say | null);
  'list_members'?: (_switchboard_v1_ListMembersRequest | null);
  'quit'?: (_switchboard_v1_Quit | null);
  'action'?: "join"|"say"|"list_members"|"quit";
}

export interface ChatRequest__Output {
  'join'?: (_switchboard_v1_Join__Output | null);
  'say'?: (_switchboard_v1_Say__Output | null);
  'list_members'?: (_switchboard_v1_ListMembersRequest__Output | null);
  'quit'?: (_switchboard_v1_Quit__Output | null);
  'action'?: "join"|"say"|"list_members"|"quit";
}
