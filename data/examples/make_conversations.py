#!/usr/bin/env python3
"""Generate the example customer-service conversation log shipped with csnlp.

Run from the repository root::

    python data/examples/make_conversations.py

It writes, next to this script:

* ``conversations.jsonl`` - about 4,000 messages, 2026-09-14 .. 2026-10-25
* ``conversations.csv``   - the first 300 lines as a GB18030 / CRLF helpdesk export
* ``planted.json``        - ground truth for the planted spike, unanswered topic and PII

Standard library only and fully deterministic (``random.Random(20261001)``; no
iteration over sets or hash-ordered containers feeds the generator), so running it
twice gives byte-identical files.  Every customer message is built from a
hand-written base phrasing (at least 25 per topic) plus light variation.
"""

from __future__ import annotations

import collections
import csv
import json
import random
import re
import statistics
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

SEED = 20261001
OUT_DIR = Path(__file__).resolve().parent
TZ = timezone(timedelta(hours=8))

START = date(2026, 9, 14)  # a Monday
END = date(2026, 10, 25)  # a Sunday (6 full weeks)
SPIKE_DAY = date(2026, 10, 8)
SPIKE_FACTOR = 8
LIVE_FIRST = date(2026, 10, 12)
LIVE_LAST = date(2026, 10, 25)
LIVE_COUNT = 120
N_PHONE, N_ID, N_BANK, N_EMAIL = 60, 20, 20, 20
CSV_ROWS = 300

# Messages this short may repeat verbatim (你好, 谢谢, 在吗 ...); longer ones never do.
SHORT_DUP_MAX = 6

WEEKDAY_VOLUME = 80
WEEKEND_VOLUME = 108

CHANNELS = ["app", "wechat", "miniprogram", "web", "sms"]
CHANNEL_WEIGHTS = [40, 25, 20, 10, 5]

# relative message volume by hour of day (Beijing time): quiet at night, peaks late
# morning, mid-afternoon and in the evening
HOUR_WEIGHTS = [2, 1, 0.6, 0.4, 0.3, 0.4, 1, 2.5, 4.5, 7, 8, 8,
                6.5, 7, 7.5, 7.5, 7, 6.5, 6, 7, 8.5, 9, 7, 4.5]
# the payment incident on SPIKE_DAY: mostly between 10:00 and 16:00
SPIKE_HOUR_WEIGHTS = [0, 0, 0, 0, 0, 0, 0, 0.5, 1, 2, 9, 12,
                      12, 11, 10, 8, 4, 2, 1.5, 1, 1, 1, 0.5, 0.3]

# --------------------------------------------------------------------------------------
# fillers for placeholders
# --------------------------------------------------------------------------------------

PRODUCTS = [
    "蓝牙耳机", "空气炸锅", "保温杯", "羽绒服", "运动鞋", "扫地机器人", "电动牙刷", "洗面奶",
    "面膜", "纸尿裤", "猫粮", "手机壳", "充电宝", "四件套", "电饭煲", "卫衣", "牛仔裤", "口红",
    "机械键盘", "显示器", "台灯", "行李箱", "奶粉", "坚果礼盒", "茶叶", "吹风机", "洗衣液",
    "电热水壶", "儿童书包", "瑜伽垫", "破壁机", "加湿器", "冲锋衣", "床垫",
]
ELECTRONICS = ["蓝牙耳机", "空气炸锅", "扫地机器人", "电动牙刷", "充电宝", "电饭煲", "机械键盘", "显示器",
               "台灯", "吹风机", "电热水壶", "破壁机", "加湿器", "投影仪", "电动剃须刀"]
CLOTHES = ["羽绒服", "运动鞋", "卫衣", "牛仔裤", "冲锋衣", "连衣裙", "衬衫", "睡衣", "马丁靴", "毛衣"]
CONSUMABLES = ["洗面奶", "面膜", "纸尿裤", "猫粮", "奶粉", "坚果礼盒", "茶叶", "洗衣液", "防晒霜", "维生素"]
COURIERS = ["顺丰", "中通", "圆通", "韵达", "京东快递", "极兔", "申通"]
AMOUNTS = ["19.9", "29", "39.9", "45", "59", "69", "88", "99", "128", "159", "199", "239",
           "299", "369", "459", "599", "899", "1299", "2499"]
SMALL_N = ["2", "3", "4", "5", "6", "7", "两", "三", "五", "七"]
PRIZES = ["蓝牙耳机", "保温杯", "口红", "扫地机器人", "小米手环", "空气炸锅", "电动牙刷",
          "零食大礼包", "面膜套装", "充电宝", "定制帆布包", "玩偶", "按摩仪", "颈枕"]
ANCHORS = ["小鹿", "阿杰", "甜甜", "大雄", "橙子", "老王", "七七"]

# --------------------------------------------------------------------------------------
# hand-written base messages per intent
# placeholders: {p} product ({e} electronics, {w} clothing, {f} consumable)  {o} order no.  {t} tracking no.  {c} courier  {a} amount
#               {n} a few (days)  {k} a digit
# No phrasing outside LIVE_STREAM mentions 直播/抽奖/中奖/福袋/奖品.
# --------------------------------------------------------------------------------------

TOPICS: dict[str, list[str]] = {
    "greeting": [
        "你好", "在吗", "在吗？", "有人吗", "客服在吗", "您好", "hello", "hi", "亲在吗", "在不在",
        "哈喽", "有人在吗？？", "你好，想问个问题", "您好，咨询一下", "客服小姐姐在吗", "早上好",
        "晚上好", "在线吗", "亲亲在么", "喂，有人吗", "您好在吗～", "请问有人吗", "嗨", "在？",
        "打扰了，在吗", "中午好", "下午好，请问在吗", "有客服吗", "你好呀", "在嘛",
    ],
    "thanks": [
        "谢谢", "好的谢谢", "谢谢亲", "感谢", "多谢", "好的，辛苦了", "谢谢你呀", "非常感谢",
        "明白了谢谢", "收到，谢谢", "3q", "thx", "谢啦", "好滴谢谢", "麻烦你了谢谢",
        "问题解决了，谢谢客服", "太感谢了！", "谢谢耐心解答", "好的好的，谢谢", "懂了，感谢",
        "谢谢小姐姐", "辛苦啦", "感谢你的帮助", "谢谢，很满意", "好的 谢谢哈", "ok谢谢",
        "谢谢你们这么快处理",
    ],
    "goodbye": [
        "拜拜", "再见", "好的没别的事了", "没问题了，再见", "就这样吧", "先这样", "好的拜拜",
        "下次再聊", "没事了", "88", "好，那我等着", "行，先不问了", "好了，没其他问题了", "bye",
        "再会", "那先这样，拜拜", "ok 就这些", "我先下了", "没有其他问题了", "好的，晚安",
        "好，回头再说", "就这些了谢谢，再见", "知道了，拜", "那我先去忙了", "嗯嗯好的 再见",
        "没别的了",
    ],
    "human_agent": [
        "转人工", "人工客服", "我要找人工", "转人工！！", "机器人听不懂，给我转人工",
        "能不能让真人来回答", "别再自动回复了，我要人工", "人工人工人工", "怎么转人工客服啊",
        "你是机器人吗？换个人来", "请帮我接通人工服务", "有没有真人客服", "我不想跟机器人说话",
        "人工客服什么时候上班", "找你们主管", "叫个活人出来", "一直在自动回复，有没有人工",
        "我的问题比较复杂，需要人工处理", "能打电话吗？我要人工", "转接人工坐席",
        "人工客服电话是多少", "排队排了半天还没轮到人工", "请人工客服联系我",
        "机器人回答的都不对，转人工", "麻烦安排人工客服", "我要投诉，先给我转人工",
        "你们人工客服在哪", "真人在吗？",
    ],
    "product_info": [
        "这款{p}有现货吗", "{p}是什么材质的", "这件{w}尺码偏大还是偏小", "{e}保修多久",
        "这个{e}和上一代有什么区别", "这款有没有白色的", "{e}能用多久，续航怎么样",
        "这个适合几岁的小孩用", "这款{p}是正品吗，有授权吗", "身高165体重110穿什么码",
        "{p}的尺寸是多少", "这个有没有赠品", "这款支持110V吗，出国能用吗", "{p}重量多少",
        "这款是国行还是港版", "{f}保质期到什么时候", "敏感肌能用这个吗", "这件{w}能机洗吗",
        "详情页写的参数准确吗", "这个颜色实物跟图片差别大吗", "{e}噪音大不大",
        "这两款{p}哪个更好", "孕妇可以用吗", "这个{e}有几个档位", "这个{p}的产地是哪里",
        "配件齐全吗，带充电器吗", "这个什么时候补货", "有没有大一号的", "{e}能不能放在车上用",
        "这款是新款还是去年的款",
    ],
    "price_promotion": [
        "{p}最近有活动吗", "双十一还会降价吗", "满减怎么算的", "这个买二送一吗",
        "昨天还是{a}元，今天怎么涨价了", "国庆有没有优惠", "多买几件能便宜点吗",
        "这个价格还能再少点吗", "新人有什么优惠", "第二件半价是怎么算的", "现在下单有赠品吗",
        "满300减50能和店铺券一起用吗", "什么时候有秒杀", "预售定金能退吗", "学生有优惠吗",
        "这个到手价是多少", "会员价和活动价哪个便宜", "团购价怎么参加", "百亿补贴的是正品吗",
        "以旧换新能抵多少钱", "跨店满减还有吗", "页面显示{a}，结算变贵了", "拼单怎么拼",
        "这次活动截止到哪天", "限时折扣几点开始", "批发价多少，我要买50个", "这个价格包邮吗",
        "凑单凑哪个划算",
    ],
    "coupon": [
        "优惠券怎么领", "我的优惠券不能用", "领了券结算的时候没抵扣", "优惠券过期了能补发吗",
        "满{a}的券为什么用不了", "新人券在哪里", "店铺券和平台券能叠加吗",
        "券显示已使用，但是我没用过", "取消订单后优惠券退回来了吗", "退货了券还能返吗",
        "有没有无门槛的券", "领券中心打不开", "优惠券码输进去提示无效", "分享给好友得的券在哪",
        "我的券怎么少了一张", "优惠券有效期多久", "这张券为什么提示不满足使用条件",
        "积分能换优惠券吗", "生日券什么时候发", "评价返的券还没到账", "运费券怎么用",
        "下单忘了用券，能补吗", "券只能用在指定商品吗", "品类券是哪些品类",
        "客服能给我发张券吗", "上次说补偿我一张券，还没收到", "为什么我领不了这个券",
        "结算页没看到优惠券选项",
    ],
    "order_status": [
        "帮我查一下订单{o}", "我的订单怎么还是待发货", "订单状态一直没变",
        "我下单了吗？怎么订单里找不到", "订单显示已完成，但我没收到货", "订单号{o}，现在什么情况",
        "为什么订单被关闭了", "订单显示交易异常是什么意思", "我刚下的单怎么看不到了",
        "这单是不是取消了", "订单显示待审核，要审核多久", "订单里的商品怎么变成缺货了",
        "我的订单被拆成两个包裹了吗", "预售订单什么时候发", "订单状态显示已签收，谁签的",
        "帮看下{o}这个订单还在吗", "订单是不是卡住了", "我有几个订单没有物流信息",
        "怎么查历史订单", "订单显示处理中好几天了", "我的订单怎么显示已拆单",
        "下单成功了没收到短信", "这单发货了没有", "订单备注能改吗", "订单详情里的收货信息是对的吗",
        "查下我上周买的{p}到哪一步了", "为什么我的订单被风控了", "订单一直显示出库中",
        "订单{o}是什么状态", "买的{p}订单怎么显示异常",
    ],
    "shipping_progress": [
        "我的快递到哪了", "物流三天没更新了", "单号{t}，查一下到哪了",
        "{c}显示已到站，什么时候派送", "物流信息一直停在中转站", "我的{p}什么时候能到",
        "显示派送中，但一直没人送", "快递怎么走回头路了", "预计什么时候送达", "物流怎么查不到",
        "快递到了哪个驿站", "能不能查一下{c}派送员的联系方式", "显示已揽收但是没动静",
        "为什么物流从广州又发回去了", "什么时候能到上海", "{n}天了还在路上，正常吗",
        "帮我看看包裹是不是丢了", "快递显示在派件，但今天没在家", "物流停在{c}分拨中心{n}天了",
        "查下{o}的物流", "我这个是哪家快递发的", "快递单号给我一下", "我买的东西到哪儿了啊",
        "偏远地区要几天到", "包裹显示异常件是怎么回事", "物流一直显示运输中", "为啥快递绕了一大圈",
        "今天能送到吗", "我的快递是不是放快递柜了", "{t}这个单号怎么查不到信息",
        "{c}的件到哪了，单号{t}", "我的{p}发到哪了",
    ],
    "urge_shipment": [
        "怎么还不发货", "下单{n}天了还没发货", "麻烦催一下发货", "能不能今天发出",
        "说好48小时发货的呢", "急用，能加急吗", "什么时候发货啊", "买了这么久还不发",
        "为什么别人买的都发了我的没发", "再不发货我就退款了", "催发货！！", "能不能优先给我发",
        "我这周末要用，来得及吗", "一直显示待发货，急死了", "仓库什么时候发", "拜托快点发货",
        "能发顺丰吗，我着急", "还要等多久才发", "预计哪天发货", "订单{o}帮催一下",
        "拖了一个星期了还没发货", "你们是不是没货了，一直不发", "发货太慢了吧",
        "买之前说当天发，现在{n}天了", "明天能发吗", "着急送人，麻烦尽快发", "没货就直说，别拖着",
        "老人生日急用，求尽快发货", "{p}到底什么时候发",
    ],
    "change_address": [
        "我想改一下收货地址", "地址填错了怎么办", "能不能帮我改地址", "收货地址写错了，还没发货能改吗",
        "已经发货了还能改地址吗", "帮我把地址改成公司的", "电话号码填错了，能改吗",
        "收件人名字写错了", "我搬家了，地址要换", "怎么修改订单的收货信息", "小区名字写错了",
        "麻烦把门牌号改成{k}0{k}室", "能改成自提吗", "地址写成老家的了，帮我改下",
        "订单{o}的地址要改", "我想把货寄到我妈那里", "在哪里修改地址，找不到按钮",
        "改地址要不要加钱", "能不能让快递转寄到新地址", "地址少写了楼号", "默认地址选错了",
        "改成送到{c}驿站可以吗", "还没发货，赶紧帮我改地址", "拦截一下改个地址", "省市区选错了",
        "帮我把收件人换成我老公", "改地址后会影响发货时间吗",
    ],
    "cancel_order": [
        "我要取消订单", "不想要了，怎么取消", "拍错了，能取消吗", "订单{o}帮我取消一下",
        "取消订单按钮是灰的", "还没发货能取消吗", "取消了钱什么时候退", "为什么取消不了订单",
        "下错单了，帮我撤销", "买重复了，取消一个", "不小心下了两单", "想取消重新拍",
        "取消订单需要审核吗", "取消申请被拒绝了", "发货了还能取消吗", "拍错颜色了，取消重拍行吗",
        "预售的能取消吗", "我申请取消了怎么还发货了", "帮我把这单关掉", "取消订单优惠券会退吗",
        "家里人已经买了，我这单取消", "不想等了，直接取消", "怎么一键取消", "取消订单有没有影响",
        "请立即取消我的订单", "取消原因选哪个", "我要撤单", "{p}不要了，取消吧",
    ],
    "payment_issue": [
        "付款的时候提示失败", "花呗为什么用不了", "信用卡支付不了", "银行卡付款提示超出限额",
        "付了两次钱，扣了两遍", "钱扣了订单还是待付款", "怎么用微信付款", "可以货到付款吗",
        "支付页面打不开", "付款提示系统繁忙", "分期付款怎么弄", "能用云闪付吗",
        "扣款成功了但显示未支付", "支付宝付不了", "余额明明够，为什么支付不成功",
        "能不能找朋友代付", "付款倒计时太短了", "苹果手机怎么支付", "支付的时候一直转圈",
        "重复扣款了怎么办", "微信支付提示风险交易", "能用两张卡一起付吗", "礼品卡怎么抵扣付款",
        "付款后订单消失了", "白条可以用来付款吗", "付款验证码收不到", "支付成功了又让我付",
        "企业对公转账怎么付款", "{p}付款一直提示失败",
    ],
    "invoice": [
        "怎么开发票", "能开增值税专用发票吗", "发票抬头写错了能重开吗", "电子发票在哪里下载",
        "我要开公司抬头的发票", "发票什么时候能开出来", "纸质发票跟货一起寄吗", "税号填错了",
        "开票需要提供什么信息", "发票金额不对，少了运费", "已经确认收货了还能补开发票吗",
        "退货后发票怎么处理", "能开成办公用品吗", "发票一直显示开具中", "帮我把个人发票换成公司的",
        "发票邮寄地址怎么填", "多个订单能合并开一张发票吗", "专票要多久", "发票内容能写明细吗",
        "我没收到电子发票", "开票信息在哪里修改", "能不能开去年的发票", "发票上的日期能改吗",
        "报销要用，急需发票", "订单{o}开发票", "发票抬头是个人还是单位有区别吗",
        "发票丢了能重新打印吗",
    ],
    "return_request": [
        "我要退货", "{p}不喜欢，想退", "七天无理由退货怎么申请", "退货运费谁出", "怎么寄回去",
        "退货地址是哪里", "能上门取件吗", "衣服尺码不合适，要退", "申请退货了，什么时候审核",
        "退货需要原包装吗", "吊牌剪了还能退吗", "拆封了还能退吗", "退货被拒了，为什么",
        "我已经寄回去了，单号{t}", "退货要填什么原因", "赠品也要一起退吗", "买了{n}天了还能退吗",
        "帮我申请退货退款", "快递员不上门取件怎么办", "退货申请找不到入口",
        "退货时候漏寄了一个配件", "东西跟描述不符，我要退", "买多了，退两件",
        "退货能不能到门店退", "运费险怎么用", "退货包装盒扔了可以退吗",
        "{p}用了一次，不太好用，能退吗", "退回去的东西你们收到没", "{p}想退，怎么操作",
    ],
    "exchange_request": [
        "能换个尺码吗", "想换个颜色", "{w}换货怎么操作", "鞋子小了，换大一码", "换货要多久",
        "换货的运费谁承担", "能不能换成别的款", "换货申请提交了没反应", "我寄回去换的货收到了吗",
        "换货发出来没有", "换一个同款新的", "只换不退可以吗", "收到的颜色不喜欢，能换吗",
        "换货需要先把原来的寄回吗", "能不能先发新的再寄回旧的", "换货地址跟退货地址一样吗",
        "换的货又有问题", "换成贵一点的款补差价可以吗", "尺码表不准，要换", "换货还是退货划算",
        "换货的单号是多少", "我想换L码", "裤子长了，换短一点的", "换大一号还有货吗",
        "换货审核通过了，下一步怎么做", "已经寄回{n}天了，新的怎么还没发",
    ],
    "refund_status": [
        "退款什么时候到账", "我的退款怎么还没到", "退款显示成功了，但没收到钱",
        "退了{a}元，怎么只到账了一部分", "退款到哪里了", "退款进度怎么查",
        "你们已经收到退货了，为什么还不退款", "退款审核要多久", "退款退到原路吗", "退款被驳回了",
        "说好{n}个工作日，现在都过了", "退款一直在处理中", "花呗的退款怎么还没还回去",
        "退款到余额了还是银行卡", "退款金额不对", "帮我查一下{o}的退款", "退款能快点吗",
        "商家同意退款了，钱呢", "退款显示关闭了是什么意思", "仅退款申请了好几天了",
        "信用卡的退款多久能到", "一直说在退款，到底什么时候到", "退款还要等多久",
        "退款到账了没有短信通知吗", "运费也应该退给我吧", "退款怎么少了{a}块",
        "我的钱到底退了没有！", "{p}退了{n}天了钱还没回来",
    ],
    "quality_issue": [
        "收到的{p}是坏的", "质量太差了，用了一次就坏了", "衣服有线头还有污渍", "开箱就有划痕",
        "{e}充不进电", "味道很大，是不是有问题", "鞋子开胶了", "洗了一次就掉色", "屏幕有坏点",
        "这个是不是假货", "食品有异味，不敢吃", "用了{n}天就不能用了", "拉链坏了", "插上电没反应",
        "边缘有毛刺，把手划破了", "和样品质量差太多", "{e}外壳有裂缝", "漏水", "起球很严重",
        "声音断断续续的", "做工太粗糙了", "保质期快过期了才发给我", "杯子有一股塑料味",
        "面膜用了过敏，是不是有问题", "锅底涂层掉了", "耳机一边没声音", "收到就发霉了",
        "电池鼓包了，吓死人",
    ],
    "wrong_or_missing_item": [
        "发错货了", "我买的是黑色，收到的是白色", "少发了一件", "我买了两个只收到一个", "赠品没收到",
        "配件少了", "尺码发错了", "收到的不是我买的东西", "空包裹！！", "发的型号不对",
        "说明书都没有", "少了充电线", "买了三件只到了两件", "发成别人的货了", "盒子里是空的",
        "口味发错了", "数量不对", "套装少了一样", "发货清单跟实物对不上", "订单{o}少发了东西",
        "我要的是大号，给我发小号", "包裹打开少了个{p}", "你们是不是漏发了", "赠品说好送的呢",
        "发来的是旧款", "分开发货的另一件一直没到", "发错颜色了，怎么处理",
    ],
    "repair_warranty": [
        "{e}坏了能保修吗", "保修期多久", "怎么申请售后维修", "过保了还能修吗，要多少钱",
        "维修点在哪里", "送修要多久", "寄修的运费谁出", "修好了吗，我的{e}送去{n}天了",
        "保修需要发票吗", "延保怎么买", "人为损坏保修吗", "上门维修怎么预约", "修完还是有问题",
        "能不能换新而不是修", "三包政策是什么", "维修进度在哪看", "保修卡丢了怎么办",
        "屏幕碎了能修吗", "电池不耐用算保修吗", "维修完寄回来的单号是多少", "官方售后热线是哪个",
        "在外地能保修吗", "修了两次还坏，能退吗", "检测费要自己出吗", "我的{e}进水了还能修吗",
        "售后网点预约不上", "修一次要多久",
    ],
    "delivery_complaint": [
        "快递员态度太差了", "没打电话就放驿站了", "快递员没送上门", "包裹被扔在门口",
        "明明在家，显示投递失败", "快递员让我自己去拿", "外包装破了", "东西被压坏了",
        "快递员虚假签收", "我没签收为什么显示签收了", "快递员要额外收钱", "{c}的快递员骂人",
        "送货上门还要加钱？", "快递柜放了我不知道，超时收费了", "送错地址了", "快递被别人拿走了",
        "快递员不接电话", "说好送货上门，结果放门卫", "箱子湿透了", "派送太慢了，隔壁的都到了",
        "快递员把东西扔进院子里", "预约的时间没来送", "外箱被拆过", "我要投诉{c}快递员",
        "不经过同意放快递柜", "快递员说没人在家，我一直在家", "每次都不送上楼",
    ],
    "price_protection": [
        "刚买就降价了，能补差价吗", "价保怎么申请", "买了{n}天就降了{a}元，退差价", "价保期是多久",
        "活动价比我买的便宜", "能不能保价", "别人买的比我便宜", "申请价保失败了",
        "降价了能不能退我钱", "保价的钱退到哪里", "预售买的比现在还贵", "我买的时候{a}，现在便宜了好多",
        "价保入口在哪", "为什么价保申请不通过", "降价了，我要退货重新买", "前天买的今天就有券了",
        "差价能以券的形式补吗", "价格保护包括用券的吗", "定金的价格比现在还高",
        "双十一会不会更便宜，能保价吗", "保价申请审核多久", "帮我申请一下价保，订单{o}",
        "差价退了吗", "我买贵了，怎么处理", "才买{n}天，差了{a}块", "价保差价怎么算的",
    ],
    "account_register": [
        "怎么注册账号", "注册收不到验证码", "手机号已经被注册了", "能用邮箱注册吗", "注册一直失败",
        "注册的时候提示格式错误", "能不能用微信注册", "新用户怎么注册会员", "一个手机号能注册两个账号吗",
        "注册页面打不开", "注册完怎么实名认证", "注销的号码还能再注册吗", "用户名已存在怎么办",
        "海外手机号能注册吗", "注册需要身份证吗", "注册为什么要人脸识别", "帮家里老人注册一个账号",
        "注册的时候滑块验证过不去", "企业账号怎么注册", "注册成功但登录不了", "注册协议在哪看",
        "手机换号了，要重新注册吗", "未成年可以注册吗", "注册送的新人礼包在哪", "验证码输了提示过期",
        "注册时头像传不上去",
    ],
    "login_problem": [
        "登录不上去", "一直提示账号或密码错误", "登录收不到验证码", "微信登录失败", "登录后闪退",
        "账号被锁定了", "换了手机登录不了", "提示账号异常，无法登录", "扫码登录没反应", "登录一直卡住",
        "登录提示网络错误", "换号了登录不了", "电脑网页端登不上", "账号被冻结了怎么解",
        "登录要验证身份，过不去", "第三方登录绑定不了", "为什么总是自动退出登录", "登录提示操作频繁",
        "登进去是别人的账号", "QQ登录入口没了", "一登录就说版本太低", "登录人脸识别失败",
        "平板上登不上", "登录后订单都不见了", "不知道当初用哪个手机号注册的", "验证码一直提示错误",
    ],
    "password_reset": [
        "忘记密码了", "怎么重置密码", "找回密码收不到短信", "修改密码在哪里", "支付密码忘了怎么办",
        "重置密码提示手机号不匹配", "密码改了还是登不上", "原手机号不用了，怎么找回密码",
        "密码设置有什么要求", "重置密码链接失效了", "想改一个更安全的密码", "找回密码需要人脸吗",
        "连续输错密码被锁了", "邮箱找回密码收不到邮件", "怎么修改登录密码", "忘了支付密码，能不能重设",
        "重置密码一直提示系统错误", "改密码需要验证原密码吗", "密码重置后多久生效",
        "新密码提示和旧密码相同", "找回密码的验证问题忘了", "密码改完要重新登录吗",
        "能帮我把密码重置一下吗", "帮老人重置一下密码", "找回密码页面一直白屏",
        "密码老是记不住，有没有免密登录",
    ],
    "account_security": [
        "我的账号被盗了", "收到陌生的登录提醒", "有人用我的账号下单了", "账号在外地登录了",
        "我没买东西，怎么有订单", "收到诈骗电话说是你们客服", "有人冒充客服让我退款",
        "绑定的手机号被改了", "怎么开启登录保护", "怎么查看登录设备", "我的积分被人盗用了",
        "收货地址多了一个陌生的", "账号有风险提示怎么办", "怎么注销账号", "怎么解绑银行卡",
        "我的信息是不是泄露了", "有人说我订单异常要给我理赔，是真的吗", "收到短信说订单有问题让我点链接",
        "怎么冻结账号", "余额被人转走了", "异地登录能自动下线吗", "怎么关闭免密功能",
        "账号安全等级低怎么提升", "有陌生人加我微信说是售后", "我怀疑账号被人盯上了",
        "怎么修改实名认证信息",
    ],
    "app_malfunction": [
        "APP一直闪退", "页面打不开", "购物车加载不出来", "搜索没反应", "图片加载不出来",
        "更新后用不了了", "APP卡得要死", "点了没反应", "一直白屏", "提示网络异常，但我网络是好的",
        "消息通知收不到", "评价提交不了", "上传图片失败", "客服聊天窗口打不开", "商品详情页一直加载",
        "小程序进不去", "扫一扫用不了", "安卓手机装不上", "首页一直刷新", "收藏夹里的东西不见了",
        "字体突然变得很小", "提示版本过低，更新又失败", "夜间模式怎么关", "购物车结算按钮点不动",
        "定位一直不对", "视频播放不了", "切换账号后数据错乱了", "网页版一直报错500",
    ],
    "membership_points": [
        "积分怎么用", "我的积分怎么少了", "积分什么时候过期", "会员等级怎么升", "会员有什么权益",
        "签到的积分没加上", "积分能抵现吗", "积分商城在哪", "买东西的积分怎么没到账",
        "会员到期了怎么续费", "开了会员没生效", "会员怎么取消自动续费", "PLUS会员能退吗",
        "积分兑换的东西什么时候发", "生日特权在哪领", "会员日是哪天", "等级降了是为什么",
        "成长值怎么算", "积分可以转给家人吗", "会员价为什么没生效", "积分清零了，能恢复吗",
        "评价送积分吗", "会员免运费券在哪", "黑卡会员怎么开", "积分兑换提示失败", "会员卡绑定不了",
    ],
    "service_complaint": [
        "你们客服态度太差了", "问了三遍都没解决", "客服一直敷衍我", "答非所问", "承诺的回电一直没打",
        "我要投诉你们的服务", "回复太慢了，等了一个小时", "客服把我拉黑了？", "每次都让我等，等到什么时候",
        "你们到底有没有人管", "换了三个客服，说法都不一样", "客服说会补偿，结果没有",
        "机器人回复根本没用", "你们服务太差，以后不会再买了", "我要找你们领导", "客服直接挂我电话",
        "一个问题拖了半个月", "售后推来推去", "投诉电话是多少", "我要去消协投诉",
        "你们的客服是不是都下班了", "刚才那个客服叫什么，我要投诉她", "上次说处理，结果不了了之",
        "太失望了", "服务跟不上就别卖了", "问个问题要排队半小时",
    ],
    "suggestion": [
        "建议增加夜间模式", "希望能加个比价功能", "能不能支持按销量排序", "建议物流信息更新及时一点",
        "包装能不能环保一点", "希望客服能24小时在线", "能不能支持到店自提", "建议搜索能按价格筛选",
        "评价区能不能只看有图的", "希望多出点大码的衣服", "能不能发顺丰，体验好一点",
        "建议把退货流程简化一下", "字体太小了，老人看不清", "希望能增加自提点", "购物车能不能分组",
        "建议多搞点会员活动", "能不能出个平板版", "建议详情页加个真人试穿视频",
        "希望支持多地址一键切换", "推送太多了，能不能少一点", "能不能出个长辈模式",
        "建议发票能自动开", "希望优惠规则写简单点", "能不能加个降价提醒", "说明书能不能出电子版",
        "建议增加英文界面",
    ],
    "out_of_scope": [
        "今天天气怎么样", "你是男的还是女的", "讲个笑话", "你吃饭了吗", "你几点下班", "你们公司在哪",
        "今天星期几", "推荐个好看的电视剧", "附近有什么好吃的", "你叫什么名字", "我好无聊",
        "陪我聊聊天", "你会唱歌吗", "股票今天涨了吗", "明天会下雨吗", "怎么减肥", "你喜欢猫还是狗",
        "帮我写个作业", "1+1等于几", "你有男朋友吗", "今晚吃什么好", "你是人工智能吗",
        "给我推荐一首歌", "周末去哪玩", "哈哈哈哈哈哈", "你好可爱", "北京到上海高铁多久",
        "失眠了怎么办",
    ],
}

# relative frequency of a conversation's main intent (greeting/thanks/goodbye also open
# and close conversations, see build_conversation)
MAIN_WEIGHTS = {
    "shipping_progress": 15, "order_status": 10.5, "refund_status": 9, "return_request": 8.5,
    "urge_shipment": 8, "payment_issue": 6.0,
    "greeting": 1.2, "thanks": 1.0, "goodbye": 0.5, "human_agent": 3.2,
    "product_info": 3.5, "price_promotion": 2.5, "coupon": 2.5,
    "change_address": 2.5, "cancel_order": 3, "invoice": 2, "exchange_request": 2.5,
    "quality_issue": 3, "wrong_or_missing_item": 2.5, "repair_warranty": 1.5,
    "delivery_complaint": 2.5, "price_protection": 1.5,
    "account_register": 0.7, "login_problem": 1.5, "password_reset": 1.0,
    "account_security": 0.8, "app_malfunction": 1.5, "membership_points": 1.2,
    "service_complaint": 1.5, "suggestion": 0.8,
    "out_of_scope": 3.4,
}

# the payment incident on SPIKE_DAY (支付失败 / 扣款了但订单显示未支付 / 微信支付一直转圈)
SPIKE_PAYMENT = [
    "支付失败", "怎么一直支付失败", "付款一直失败，什么情况", "扣款了但订单显示未支付",
    "钱已经扣了，订单还是待付款", "微信支付一直转圈", "微信付款转了半天没反应",
    "点了支付就卡住，一直在转", "今天付款怎么回事，试了五次都失败", "银行短信说扣了{a}元，订单却是未支付",
    "刚付完钱，订单显示未付款，钱去哪了", "支付失败但是钱被扣了！", "微信支付转圈圈然后提示失败",
    "你们支付系统是不是崩了", "app里付不了款，一直提示支付异常", "扣了两次钱，订单还是未支付",
    "微信支付页面一直在加载", "付款显示网络错误，但是钱扣了", "一上午都付不了款",
    "支付成功的截图我有，订单却显示待支付", "订单超时自动取消了，可钱已经扣了",
    "用微信付一直转圈，换银行卡也失败", "是不是系统出问题了？付款付不出去",
    "钱扣了{a}元，订单显示未支付，赶紧处理", "支付完跳回来显示支付失败", "付款一直转圈转了十分钟",
    "别人也付不了吗？你们支付是不是挂了", "扣款成功订单未支付，多久能退回", "{p}付款失败三次了",
    "微信支付一直转圈，到底能不能付", "订单{o}扣款了但是显示未支付",
]

# the unanswered topic: live-stream lottery prizes and 福袋 (no intent, no FAQ entry)
LIVE_STREAM = [
    "直播间抽奖中奖了，奖品一直没发", "我在直播间抽中了{prize}，到现在都没收到", "中奖名单在哪看啊",
    "主播说的福袋怎么领", "昨晚直播抽奖我中了，怎么领奖", "直播间福袋抽中了，奖品什么时候寄",
    "显示我中奖了，但是没让我填地址", "中奖了要怎么兑奖", "福袋中的{prize}多久发货",
    "主播说中奖的联系客服，我中了{prize}", "直播间抽的奖说7天内发，现在都{n}个星期了",
    "我怎么知道自己有没有中奖", "中奖名单公布了吗？", "福袋领取入口在哪里？找不到",
    "主播说关注就能抽福袋，我关注了怎么领不了", "直播抽奖中的奖品是不是不发了",
    "抽中福袋了，提示去背包领取，背包里没有", "直播间中奖的{prize}为什么还没物流",
    "中了奖品，收货地址填错了怎么改", "上次直播抽中的{prize}还没到，是不是忘了",
    "直播中奖截图我有，奖品什么时候发", "{anchor}直播间的福袋是真的吗，从来没收到过",
    "中奖后邮费要自己出吗", "抽奖结果在哪里查", "主播说中奖名单会发在粉丝群，我没进群怎么看",
    "直播间抽奖中奖了，客服说查不到记录", "福袋里的东西去哪了", "中奖的奖品能换成现金吗",
    "直播的时候说的超级福袋，领完显示已失效", "为什么我中奖了没收到任何通知",
    "抽奖一等奖的{prize}什么时候发货", "直播抽奖中的{prize}，能不能换个颜色",
    "我朋友跟我一起中奖的，她收到奖品了我没收到", "福袋倒计时结束了，怎么没看到结果",
    "中奖了奖品要签收吗，我怕错过快递", "直播间抽奖是不是假的，说好的奖品呢", "看直播抢的福袋怎么兑换",
    "上周{anchor}那场直播我中奖了，奖品到现在没影", "{anchor}说今晚福袋加码，领了之后在哪看",
]

# private-data templates: (intent, template); {ph} phone, {id} ID card, {bc} bank card, {em} e-mail
PII_PHONE = [
    ("change_address", "收货电话改成{ph}，原来的号码停机了"),
    ("change_address", "地址改成杭州市西湖区文三路{k}号，电话{ph}"),
    ("change_address", "帮我把收件人手机号换成{ph}"),
    ("change_address", "收件人改成我爸，电话{ph}"),
    ("change_address", "麻烦改下联系电话：{ph}"),
    ("change_address", "电话填错了，正确的是{ph}"),
    ("change_address", "新地址：南京市鼓楼区中山路{k}8号，联系人张女士 {ph}"),
    ("change_address", "订单{o}的收货号码改成{ph}，谢谢"),
    ("shipping_progress", "快递到了打我电话{ph}，白天可能不在家"),
    ("shipping_progress", "让快递员联系我{ph}，我在公司"),
    ("shipping_progress", "派送前先打{ph}，谢谢"),
    ("shipping_progress", "{c}的单子一直没人联系我，我手机{ph}"),
    ("human_agent", "人工客服打我电话吧 {ph}，打字说不清楚"),
    ("human_agent", "直接电话联系我{ph}"),
    ("human_agent", "我的电话{ph}，请尽快回电"),
    ("account_register", "手机号{ph}注册收不到验证码"),
    ("login_problem", "{ph}这个号码登录一直提示账号不存在"),
    ("login_problem", "用{ph}登录提示账号已冻结"),
    ("order_status", "我用{ph}下的单，帮我查下订单"),
    ("order_status", "用手机号{ph}查一下我的订单"),
    ("return_request", "上门取件的时候联系{ph}"),
    ("return_request", "退货取件麻烦提前打{ph}"),
]
PII_ID = [
    ("shipping_progress", "海外购要清关，我的身份证号是{id}，名字王芳"),
    ("shipping_progress", "清关资料：身份证{id}"),
    ("shipping_progress", "清关一直卡着，身份证号{id}已经提交过了"),
    ("shipping_progress", "跨境的{f}要身份证是吧，{id}"),
    ("account_security", "我的身份证{id}被别人实名了"),
    ("account_security", "实名认证显示身份证{id}已被其他账号使用"),
    ("account_register", "身份证号填的是{id}，认证失败"),
    ("account_register", "注册实名一直不通过，身份证 {id}"),
    ("human_agent", "核实身份用的身份证号：{id}，麻烦人工处理"),
]
PII_BANK = [
    ("refund_status", "退款退到我这张卡{bc}了吗，查不到"),
    ("refund_status", "我的银行卡号{bc}，退款一直没到"),
    ("refund_status", "退款请退到{bc}，原来那张卡注销了"),
    ("refund_status", "卡号{bc}，帮我看下退款有没有打过来"),
    ("refund_status", "退的{a}元没到我的储蓄卡{bc}"),
    ("return_request", "退货退款打到这个卡号吧{bc}"),
    ("price_protection", "差价能打到银行卡吗，卡号{bc}"),
    ("cancel_order", "订单取消了，钱退回{bc}这张卡吗"),
]
PII_EMAIL = [
    ("invoice", "电子发票发到{em}"),
    ("invoice", "发票麻烦发邮箱{em}，谢谢"),
    ("invoice", "发票一直没收到，邮箱是{em}"),
    ("invoice", "订单{o}的发票请发送至 {em} "),
    ("invoice", "专票资料我发到你们邮箱了，回复请发{em}"),
    ("account_register", "用邮箱{em}注册收不到激活邮件"),
    ("password_reset", "找回密码的邮件没发到{em}"),
    ("account_security", "我绑定的邮箱{em}被人改了"),
]

# --------------------------------------------------------------------------------------
# light variation
# --------------------------------------------------------------------------------------

POLITE_PREFIX = ["你好，", "您好，", "亲，", "客服你好，", "麻烦问一下，", "打扰一下，", "亲亲，",
                 "在吗？", "hello，", "你好 ", "您好！", "麻烦看下，", "请问一下，"]
ANGRY_PREFIX = ["怎么回事？", "搞什么啊！", "服了，", "无语了，", "到底怎么回事，", "我真的很生气，",
                "第三次问了，", "能不能靠谱点，", "气死了！", "又是这样，"]
NEUTRAL_SUFFIX = ["？", "?", "。", "😭", "🙏", "[流泪]", "[疑问]", "，急", "，急！", "～", "😅",
                  "[捂脸]", "！", "...", "??"]
POLITE_SUFFIX = ["，谢谢", "，麻烦了", "，辛苦了", "，谢谢亲", "[抱拳]", "，谢谢🙏", "，麻烦尽快",
                 "，辛苦帮忙看下", "，感谢"]
ANGRY_SUFFIX = ["！！", "？？？", "，赶紧处理", "，不然我投诉了", "，再不处理就打12315了", "[发怒]",
                "😡", "，太离谱了", "，给个说法", "！！！"]
SOCIAL_SUFFIX = ["～", "！", "😊", "[微笑]", "呀", "👍", "~"]

ANGRY_PRONE = {"delivery_complaint", "service_complaint", "quality_issue", "urge_shipment",
               "refund_status", "wrong_or_missing_item", "live_stream_prize", "payment_issue"}
SOCIAL = {"greeting", "thanks", "goodbye"}

TRAD = {"这": "這", "个": "個", "么": "麼", "货": "貨", "发": "發", "单": "單", "还": "還", "没": "沒",
        "钱": "錢", "问": "問", "请": "請", "说": "說", "买": "買", "时": "時", "间": "間", "给": "給",
        "吗": "嗎", "们": "們", "过": "過", "开": "開", "运": "運", "费": "費", "换": "換", "号": "號",
        "码": "碼", "电": "電", "后": "後", "处": "處", "题": "題"}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return d
    raise AssertionError


class Gen:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.used_texts: dict[str, int] = {}
        self.used_numbers: list[str] = []  # order/tracking numbers handed out (kept unique)
        self._used_numbers_lookup: dict[str, None] = {}

    # ----- placeholder values ---------------------------------------------------------
    def _unique(self, make) -> str:
        while True:
            v = make()
            if v not in self._used_numbers_lookup:
                self._used_numbers_lookup[v] = None
                self.used_numbers.append(v)
                return v

    def order_no(self, day: date) -> str:
        """2026MMDD + 8 digits (16 digits) that deliberately FAIL the Luhn check, so order
        numbers are never mistaken for planted bank cards."""
        r = self.rng

        def make() -> str:
            d = day - timedelta(days=r.randint(0, 12))
            s = d.strftime("%Y%m%d") + "".join(r.choice("0123456789") for _ in range(8))
            if luhn_ok(s):
                s = s[:-1] + str((int(s[-1]) + 1) % 10)
            return s

        return self._unique(make)

    def tracking_no(self, courier: str | None = None) -> str:
        r = self.rng
        courier = courier or r.choice(COURIERS)

        def make() -> str:
            digits = lambda n: "".join(r.choice("0123456789") for _ in range(n))  # noqa: E731
            if courier == "顺丰":
                return "SF" + r.choice("123456789") + digits(12)
            if courier == "圆通":
                return "YT" + r.choice("6789") + digits(12)
            if courier == "极兔":
                return "JT" + r.choice("05") + digits(12)
            if courier == "中通":
                return "7" + r.choice("3578") + digits(10)
            if courier == "韵达":
                return r.choice(["43", "46"]) + digits(11)
            if courier == "京东快递":
                return "JD00" + r.choice("12345") + digits(10)
            return "77" + r.choice("0123456789") + digits(10)  # 申通: 13 digits

        return self._unique(make)

    def fill(self, template: str, day: date, extra: dict[str, str] | None = None) -> str:
        r = self.rng
        courier = r.choice(COURIERS)
        values = dict(extra or {})

        def repl(m: re.Match) -> str:
            key = m.group(1)
            if key in values:
                return values[key]
            if key == "p":
                return r.choice(PRODUCTS)
            if key == "e":
                return r.choice(ELECTRONICS)
            if key == "w":
                return r.choice(CLOTHES)
            if key == "f":
                return r.choice(CONSUMABLES)
            if key == "o":
                return self.order_no(day)
            if key == "t":
                return self.tracking_no(courier)
            if key == "c":
                return courier
            if key == "a":
                return r.choice(AMOUNTS)
            if key == "n":
                return r.choice(SMALL_N)
            if key == "k":
                return str(r.randint(1, 9))
            if key == "prize":
                return r.choice(PRIZES)
            if key == "anchor":
                return r.choice(ANCHORS)
            raise KeyError(key)

        return re.sub(r"\{(\w+)\}", repl, template)

    # ----- decoration -----------------------------------------------------------------
    def decorate(self, intent: str, text: str, force: int, allow_trad: bool) -> str:
        """Polite/angry prefixes and suffixes, emoji, punctuation noise.  `force` grows with
        each retry so that a message that collided with an earlier one gets more variation."""
        r = self.rng
        if intent in SOCIAL or intent == "out_of_scope":
            if r.random() < 0.25 + 0.2 * force:
                text = text.rstrip("！!～~") + r.choice(SOCIAL_SUFFIX + ["[微笑]", "😂", "哈"])
            if force > 2:
                text += r.choice(NEUTRAL_SUFFIX)
            return text
        angry_p = 0.35 if intent in ANGRY_PRONE else 0.12
        polite_p = 0.35
        mood_roll = r.random()
        mood = "angry" if mood_roll < angry_p else ("polite" if mood_roll < angry_p + polite_p else "neutral")
        prefix_p = min(0.9, 0.3 + 0.2 * force)
        suffix_p = min(0.95, 0.4 + 0.2 * force)
        if r.random() < prefix_p and mood != "neutral":
            text = r.choice(POLITE_PREFIX if mood == "polite" else ANGRY_PREFIX) + text
        if r.random() < suffix_p:
            pool = {"polite": POLITE_SUFFIX, "angry": ANGRY_SUFFIX, "neutral": NEUTRAL_SUFFIX}[mood]
            suffix = r.choice(pool)
            if suffix[0] in "？?。！!" and text[-1] in "？?。！!":
                text = text[:-1]
            text += suffix
        # punctuation / typing noise
        roll = r.random()
        if roll < 0.07:
            text = text.replace("，", " ")
        elif roll < 0.12:
            text = text.replace("，", ",")
        elif roll < 0.18:
            text = text.replace("？", "?")
        if r.random() < 0.05 and text[-1] in "？?。":
            text = text[:-1]
        if allow_trad and r.random() < 0.02:
            text = "".join(TRAD.get(ch, ch) for ch in text)
        return text

    def message(self, intent: str, pool: list[str], day: date, *, avoid: str | None = None,
                extra: dict[str, str] | None = None, allow_trad: bool = True,
                decorate: bool = True) -> tuple[str, str]:
        """Pick a base phrasing from `pool`, fill and decorate it; never repeat a message
        longer than SHORT_DUP_MAX characters.  Returns (text, base)."""
        r = self.rng
        for attempt in range(80):
            base = r.choice(pool)
            if base == avoid and len(pool) > 1:
                continue
            text = self.fill(base, day, extra)
            if decorate:
                text = self.decorate(intent, text, attempt // 4, allow_trad)
            text = text.strip()
            if len(text) <= SHORT_DUP_MAX or text not in self.used_texts:
                self.used_texts[text] = self.used_texts.get(text, 0) + 1
                return text, base
        raise RuntimeError(f"could not build a fresh message for {intent}")


# --------------------------------------------------------------------------------------
# private data generators
# --------------------------------------------------------------------------------------

PHONE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                  "152", "155", "156", "157", "158", "159", "166", "173", "176", "177", "178",
                  "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "193",
                  "195", "198", "199"]
ID_REGIONS = ["110105", "110108", "310104", "310115", "440305", "440106", "330106", "320102",
              "510107", "420106", "610113", "370202", "350203", "500103", "430104", "210102"]
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
BANK_BINS = [("622202", 19), ("621700", 19), ("622848", 19), ("621226", 19), ("622588", 16),
             ("436742", 16), ("621483", 16), ("625965", 16), ("622609", 16), ("621661", 19),
             ("622700", 19), ("623058", 19), ("602969", 18)]
EMAIL_USERS = ["zhangwei", "wang.fang", "li_na", "liuyang", "chenjing", "yangli", "huangmin",
               "zhaolei", "wuxia", "zhoujie", "xuting", "sunhao", "maxiaoyu", "zhuqing", "hu.bo",
               "guoyan", "linfeng", "heping", "gaoyuan", "luoxin", "tangmeng", "hanxue"]
EMAIL_DOMAINS = ["163.com", "126.com", "qq.com", "sina.com", "foxmail.com", "outlook.com",
                 "gmail.com", "139.com", "yeah.net", "hotmail.com"]


def id_check_char(first17: str) -> str:
    s = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return "10X98765432"[s % 11]


def looks_like_id_card(s: str) -> bool:
    """18 characters with a real birth date and a correct check character."""
    if len(s) != 18 or not s[:17].isdigit():
        return False
    try:
        date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return 1900 <= int(s[6:10]) <= 2026 and id_check_char(s[:17]) == s[17]


def make_pii(rng: random.Random) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"phone": [], "id_card": [], "bank_card": [], "email": []}
    seen: dict[str, None] = {}

    def add(kind: str, v: str) -> bool:
        if v in seen:
            return False
        seen[v] = None
        out[kind].append(v)
        return True

    while len(out["phone"]) < N_PHONE:
        add("phone", rng.choice(PHONE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8)))
    while len(out["id_card"]) < N_ID:
        birth = date(1962, 1, 1) + timedelta(days=rng.randint(0, 15700))  # 1962 .. ~2004
        body = rng.choice(ID_REGIONS) + birth.strftime("%Y%m%d") + f"{rng.randint(0, 999):03d}"
        value = body + id_check_char(body)
        if value.isdigit() and luhn_ok(value):
            continue  # keep the kinds unambiguous: no planted ID number passes the Luhn check
        add("id_card", value)
    while len(out["bank_card"]) < N_BANK:
        bin_, length = rng.choice(BANK_BINS)
        body = bin_ + "".join(rng.choice("0123456789") for _ in range(length - len(bin_) - 1))
        value = body + luhn_check_digit(body)
        if looks_like_id_card(value):
            continue  # ... and no planted bank card is also a valid ID number
        add("bank_card", value)
    while len(out["email"]) < N_EMAIL:
        dom = rng.choice(EMAIL_DOMAINS)
        if dom == "qq.com" or (dom == "foxmail.com" and rng.random() < 0.5):
            user = str(rng.randint(10000000, 2999999999))  # QQ number, 8-10 digits
        else:
            user = rng.choice(EMAIL_USERS) + rng.choice(["", str(rng.randint(70, 99)),
                                                         str(rng.randint(1980, 2005)),
                                                         str(rng.randint(1, 999))])
        add("email", f"{user}@{dom}")
    return out


# --------------------------------------------------------------------------------------
# conversations
# --------------------------------------------------------------------------------------

RESOLVE_P = {
    "greeting": 0.95, "thanks": 0.97, "goodbye": 0.97, "human_agent": 0.7, "product_info": 0.88,
    "price_promotion": 0.82, "coupon": 0.75, "order_status": 0.8, "shipping_progress": 0.78,
    "urge_shipment": 0.62, "change_address": 0.8, "cancel_order": 0.85, "payment_issue": 0.7,
    "invoice": 0.85, "return_request": 0.78, "exchange_request": 0.75, "refund_status": 0.66,
    "quality_issue": 0.6, "wrong_or_missing_item": 0.65, "repair_warranty": 0.72,
    "delivery_complaint": 0.5, "price_protection": 0.7, "account_register": 0.85,
    "login_problem": 0.75, "password_reset": 0.85, "account_security": 0.65,
    "app_malfunction": 0.6, "membership_points": 0.85, "service_complaint": 0.35,
    "suggestion": 0.9, "out_of_scope": 0.6,
    "live_stream_prize": 0.15, "payment_issue@spike": 0.25,
}


class Conv:
    __slots__ = ("start", "channel", "user_id", "msgs", "resolved", "satisfaction", "kind")

    def __init__(self, start: datetime, channel: str, user_id: str, kind: str) -> None:
        self.start = start
        self.channel = channel
        self.user_id = user_id
        self.kind = kind  # "base", "spike", "live", "pii"
        self.msgs: list[dict] = []  # {"offset": s, "text": ..., "intent": ..., "pii": [...]}
        self.resolved = True
        self.satisfaction: int | None = None


def main() -> None:
    g = Gen()
    r = g.rng
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]

    users = [f"u{v}" for v in r.sample(range(10_000_000, 99_999_999), 3200)]
    user_w = [1.0 / (1 + i) ** 0.35 for i in range(len(users))]
    intents = list(MAIN_WEIGHTS)
    weights = [MAIN_WEIGHTS[i] for i in intents]

    def pick_time(day: date, hour_w: list[float] = HOUR_WEIGHTS) -> datetime:
        h = r.choices(range(24), weights=hour_w)[0]
        m = r.randint(0, 49 if h == 23 else 59)
        return datetime(day.year, day.month, day.day, h, m, r.randint(0, 59), tzinfo=TZ)

    def new_conv(day: date, kind: str, channel: str | None = None,
                 hour_w: list[float] = HOUR_WEIGHTS) -> Conv:
        ch = channel or r.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
        return Conv(pick_time(day, hour_w), ch, r.choices(users, weights=user_w)[0], kind)

    def add_msg(conv: Conv, intent: str, text: str, pii: list[tuple[str, str]] | None = None) -> None:
        offset = 0 if not conv.msgs else conv.msgs[-1]["offset"] + r.randint(8, 150)
        conv.msgs.append({"offset": offset, "text": text, "intent": intent, "pii": pii or []})

    def social(conv: Conv, intent: str, day: date) -> None:
        add_msg(conv, intent, g.message(intent, TOPICS[intent], day)[0])

    convs: list[Conv] = []

    def build_conversation(day: date, main_intent: str, conv: Conv, first: tuple[str, str] | None = None,
                           follow_pool: list[str] | None = None, follow_p: float = 0.15) -> Conv:
        """[greeting] main [follow-up | 转人工] [thanks | goodbye]"""
        if main_intent not in SOCIAL and r.random() < 0.05:
            social(conv, "greeting", day)
        if first is None:
            text, base = g.message(main_intent, TOPICS[main_intent], day)
        else:
            text, base = first
        add_msg(conv, main_intent, text)
        if main_intent not in SOCIAL and main_intent != "out_of_scope":
            roll = r.random()
            if roll < follow_p:
                pool = follow_pool or TOPICS[main_intent]
                add_msg(conv, main_intent, g.message(main_intent, pool, day, avoid=base)[0])
            elif roll < follow_p + 0.03 and main_intent != "human_agent":
                social(conv, "human_agent", day)
            roll = r.random()
            if roll < 0.05:
                social(conv, "thanks", day)
            elif roll < 0.08:
                social(conv, "goodbye", day)
        return conv

    # ---- 1. ordinary traffic ----------------------------------------------------------
    for day in days:
        base_vol = WEEKEND_VOLUME if day.weekday() >= 5 else WEEKDAY_VOLUME
        target = max(10, round(base_vol * r.gauss(1.0, 0.06)))
        n = 0
        while n < target:
            intent = r.choices(intents, weights=weights)[0]
            conv = build_conversation(day, intent, new_conv(day, "base"))
            convs.append(conv)
            n += len(conv.msgs)

    def payment_count(day: date) -> int:
        return sum(1 for c in convs if c.start.date() == day for m in c.msgs if m["intent"] == "payment_issue")

    # "normal" = the 14 days before the spike (the window a detector compares against)
    baseline_days = [SPIKE_DAY - timedelta(days=i) for i in range(14, 0, -1)]
    baseline_mean = statistics.mean(payment_count(d) for d in baseline_days)

    # ---- 2. planted spike: payment failures on SPIKE_DAY, mostly in the app --------------
    extra = round(SPIKE_FACTOR * baseline_mean) - payment_count(SPIKE_DAY)
    added = 0
    while added < extra:
        ch = r.choices(CHANNELS, weights=[86, 7, 5, 2, 0])[0]
        conv = new_conv(SPIKE_DAY, "spike", channel=ch, hour_w=SPIKE_HOUR_WEIGHTS)
        first = g.message("payment_issue", SPIKE_PAYMENT, SPIKE_DAY, allow_trad=False)
        add_msg(conv, "payment_issue", first[0])
        added += 1
        if added < extra and r.random() < 0.2:
            add_msg(conv, "payment_issue",
                    g.message("payment_issue", SPIKE_PAYMENT, SPIKE_DAY, avoid=first[1], allow_trad=False)[0])
            added += 1
        if r.random() < 0.06:
            social(conv, "human_agent", SPIKE_DAY)
        convs.append(conv)

    # ---- 3. planted unanswered topic: live-stream prizes / 福袋 ---------------------------
    live_days = [d for d in days if LIVE_FIRST <= d <= LIVE_LAST]
    day_w = [1.0 + 0.12 * i + (0.4 if d.weekday() >= 5 else 0.0) for i, d in enumerate(live_days)]
    per_day = {d: 1 for d in live_days}  # every day of the window has at least one
    for _ in range(LIVE_COUNT - len(live_days)):
        per_day[r.choices(live_days, weights=day_w)[0]] += 1
    for d in live_days:
        left = per_day[d]
        while left:
            conv = new_conv(d, "live", channel=r.choices(CHANNELS, weights=[45, 22, 25, 6, 2])[0])
            if r.random() < 0.06:
                social(conv, "greeting", d)
            first = g.message("live_stream_prize", LIVE_STREAM, d, allow_trad=False)
            add_msg(conv, "live_stream_prize", first[0])
            left -= 1
            if left and r.random() < 0.18:
                add_msg(conv, "live_stream_prize",
                        g.message("live_stream_prize", LIVE_STREAM, d, avoid=first[1], allow_trad=False)[0])
                left -= 1
            roll = r.random()
            if roll < 0.12:
                social(conv, "human_agent", d)
            convs.append(conv)

    # ---- 4. planted private data -------------------------------------------------------
    pii = make_pii(r)
    # one message per planted value, in a fixed order: kind by kind, value by value
    for kind, key, templates in (("phone", "ph", PII_PHONE), ("id_card", "id", PII_ID),
                                 ("bank_card", "bc", PII_BANK), ("email", "em", PII_EMAIL)):
        for value in pii[kind]:
            day = r.choice(days)
            intent, template = r.choice(templates)
            conv = new_conv(day, "pii")
            text, _ = g.message(intent, [template], day, extra={key: value}, allow_trad=False)
            assert value in text
            add_msg(conv, intent, text, pii=[(kind, value)])
            if r.random() < 0.1:
                social(conv, "thanks", day)
            convs.append(conv)

    # ---- outcome, satisfaction, ids, agent labels --------------------------------------
    convs.sort(key=lambda c: c.start)
    next_cid = 100_000_000 + r.randint(0, 999_999)
    records: list[dict] = []
    for conv in convs:
        main_intent = next((m["intent"] for m in conv.msgs if m["intent"] not in SOCIAL), conv.msgs[0]["intent"])
        key = "payment_issue@spike" if conv.kind == "spike" else main_intent
        conv.resolved = r.random() < RESOLVE_P[key]
        if r.random() < 0.30:
            if conv.resolved:
                conv.satisfaction = r.choices([5, 4, 3, 2, 1], weights=[52, 30, 11, 4, 3])[0]
            else:
                conv.satisfaction = r.choices([1, 2, 3, 4, 5], weights=[38, 26, 20, 10, 6])[0]
        next_cid += r.randint(1, 37)
        cid = f"c{next_cid}"
        label_p = 0.26 if conv.kind == "spike" else 0.20
        for m in conv.msgs:
            ts = conv.start + timedelta(seconds=m["offset"])
            records.append({
                "ts": ts.isoformat(),
                "text": m["text"],
                "channel": conv.channel,
                "user_id": conv.user_id,
                "conversation_id": cid,
                "resolved": conv.resolved,
                "satisfaction": conv.satisfaction,
                "agent_label": m["intent"] if r.random() < label_p else None,
                "_intent": m["intent"],
                "_pii": m["pii"],
            })
    records.sort(key=lambda rec: rec["ts"])  # stable: same-second messages keep conversation order

    # ---- truth ---------------------------------------------------------------------------
    spike_count = sum(1 for rec in records
                      if rec["ts"].startswith(SPIKE_DAY.isoformat()) and rec["_intent"] == "payment_issue")
    live = [rec for rec in records if rec["_intent"] == "live_stream_prize"]
    pii_in_order: dict[str, list[str]] = {"phone": [], "id_card": [], "bank_card": [], "email": []}
    for rec in records:
        for kind, value in rec["_pii"]:
            pii_in_order[kind].append(value)
    planted = {
        "spike": {"date": SPIKE_DAY.isoformat(), "intent": "payment_issue", "count": spike_count,
                  "baseline_mean": round(baseline_mean, 2)},
        "unanswered_topic": {"label": "live_stream_prize",
                             "keywords": ["直播", "抽奖", "中奖", "福袋", "奖品"],
                             "count": len(live), "first": live[0]["ts"][:10], "last": live[-1]["ts"][:10]},
        "pii": pii_in_order,
        "n_lines": len(records),
    }

    # ---- write -----------------------------------------------------------------------------
    fields = ["ts", "text", "channel", "user_id", "conversation_id", "resolved", "satisfaction", "agent_label"]
    with open(OUT_DIR / "conversations.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps({k: rec[k] for k in fields}, ensure_ascii=False) + "\n")
    # Excel "CSV" saved on Chinese Windows: GB18030, CRLF, TRUE/FALSE, empty cells for nulls
    with open(OUT_DIR / "conversations.csv", "w", encoding="gb18030", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(fields)
        for rec in records[:CSV_ROWS]:
            w.writerow([rec["ts"], rec["text"], rec["channel"], rec["user_id"], rec["conversation_id"],
                        "TRUE" if rec["resolved"] else "FALSE",
                        "" if rec["satisfaction"] is None else rec["satisfaction"],
                        rec["agent_label"] or ""])
    with open(OUT_DIR / "planted.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(planted, f, ensure_ascii=False, indent=2)
        f.write("\n")

    print(f"wrote {len(records)} lines to {OUT_DIR / 'conversations.jsonl'}")
    print(f"spike {SPIKE_DAY}: payment_issue {spike_count} (baseline mean {baseline_mean:.2f}/day)")
    print(f"unanswered topic live_stream_prize: {len(live)} messages {planted['unanswered_topic']['first']}"
          f" .. {planted['unanswered_topic']['last']}")
    print("pii: " + ", ".join(f"{k} {len(v)}" for k, v in pii_in_order.items()))
    top = collections.Counter(rec["_intent"] for rec in records).most_common(8)
    print("most frequent intents: " + ", ".join(f"{k} {v}" for k, v in top))


if __name__ == "__main__":
    main()
