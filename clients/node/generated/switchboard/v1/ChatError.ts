// Original file: switchboard/v1/chat.proto


export interface ChatError {
  'code'?: (number);
  'message'?: (string);
}

export interface ChatError__Output {
  'code': (number);
  'message': (string);
}
